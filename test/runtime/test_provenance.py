"""Where the running code came from: the checkout's commit and installed versions."""

from __future__ import annotations

import re

import torch

from lipsound2.runtime.provenance import git_hash, package_version


def test_git_hash_names_a_commit_or_says_there_is_none():
    found = git_hash()
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", found) or found == "unknown (not a git checkout)", found


def test_package_version_is_the_installed_one_or_not_installed():
    assert torch.__version__.startswith(package_version("torch"))
    assert package_version("no-such-distribution-here") == "not installed"

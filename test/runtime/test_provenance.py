"""Where the running code came from: the checkout's commit and installed versions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

import lipsound2.runtime.provenance as provenance
from lipsound2.runtime.provenance import git_hash, package_version


def test_git_hash_names_a_commit_or_says_there_is_none():
    found = git_hash()
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", found) or found == "unknown (not a git checkout)", found


def test_package_version_is_the_installed_one_or_not_installed():
    assert torch.__version__.startswith(package_version("torch"))
    assert package_version("no-such-distribution-here") == "not installed"


def test_a_package_inside_another_repository_does_not_take_its_commit(tmp_path):
    """Installed (not editable) into a folder that some other git repository holds, the package
    must not report that repository's HEAD as its own commit."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    copy = tmp_path / "site-packages" / "lipsound2" / "runtime" / "provenance.py"
    copy.parent.mkdir(parents=True)
    shutil.copy(Path(provenance.__file__), copy)
    code = f"import runpy; print(runpy.run_path({str(copy)!r})['git_hash']())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "unknown (not a git checkout)"

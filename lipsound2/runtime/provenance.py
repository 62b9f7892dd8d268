"""Where the running code came from: the git commit of the checkout and installed versions.

Written into RESULTS.md's environment header (:mod:`lipsound2.report.environment`) and into a
packed model's meta (:mod:`lipsound2.inference.pack`).
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path


def git_hash() -> str:
    """Commit of the checkout this package runs from, ``-dirty`` when it has local changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        git = ["git", "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"]
        top, head = subprocess.run(git, capture_output=True, text=True, check=True).stdout.splitlines()
        if Path(top).resolve() != root:  # installed into some other repository's tree
            return "unknown (not a git checkout)"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def package_version(package: str) -> str:
    """Installed version of the distribution ``package``, or ``not installed``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"

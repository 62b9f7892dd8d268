"""The environment header of RESULTS.md (like ESPnet's): date, versions, git hash, configs."""

from __future__ import annotations

import datetime
import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def git_hash() -> str:
    """Commit of the checkout this package runs from, ``-dirty`` when it has local changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(configs: list[str] | None = None) -> list[tuple[str, str]]:
    """``(name, value)`` pairs for the header."""
    env = [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("python", f"{platform.python_version()} ({sys.platform})"),
        ("lipsound2 git hash", git_hash()),
    ]
    env += [
        (f"{p} version", _version(p)) for p in ("torch", "torchaudio", "espnet", "pesq", "pystoi", "jiwer")
    ]
    env += [("faster-whisper version", _version("faster-whisper"))]
    for conf in configs or []:
        path = Path(conf)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "missing"
        env.append((f"config {path.name}", f"{conf} (sha256 {digest})"))
    return env

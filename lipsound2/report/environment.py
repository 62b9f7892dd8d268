"""The environment header of RESULTS.md (like ESPnet's): date, versions, git hash, configs."""

from __future__ import annotations

import datetime
import hashlib
import platform
import sys
from pathlib import Path

from lipsound2.runtime.provenance import git_hash, package_version


def environment(configs: list[str] | None = None) -> list[tuple[str, str]]:
    """``(name, value)`` pairs for the header."""
    env = [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("python", f"{platform.python_version()} ({sys.platform})"),
        ("lipsound2 git hash", git_hash()),
    ]
    env += [
        (f"{p} version", package_version(p))
        for p in ("torch", "torchaudio", "espnet", "pesq", "pystoi", "jiwer")
    ]
    env += [("faster-whisper version", package_version("faster-whisper"))]
    for conf in configs or []:
        path = Path(conf)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "missing"
        env.append((f"config {path.name}", f"{conf} (sha256 {digest})"))
    return env

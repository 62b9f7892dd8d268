"""Artefacts built once per test run and shared by the tests that read them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test run: the session's base temp dir, or, under pytest-xdist, the
    one above the workers' (each worker is a session of its own, with its own base temp dir)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``<run dir>/shared/<name>``, which ``build`` makes (it is given that path).

    The first worker to ask builds it under a file lock while the others wait, then all read
    it. A build that failed half-way is removed and tried again by the next one to ask, so a
    failure is reported by each test that needs the artefact. Readers must not change it."""
    shared = run_dir(tmp_path_factory) / "shared"
    shared.mkdir(exist_ok=True)
    target, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            if target.exists():
                shutil.rmtree(target)
            build(target)
            done.touch()
    return target

"""Fixtures of the integration tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def grid_s1(realdata: Path) -> Path:
    """Real GRID speaker s1 in the release layout (a): ``s1/<utt>.mpg``, ``alignments/s1/``."""
    path = realdata / "GRID_s1"
    if not (path / "s1").is_dir():
        pytest.skip(f"{path}: no real GRID s1 clips")
    return path

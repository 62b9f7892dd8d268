"""Shared fixtures: the real sample clips, the repository root, small generated signals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_realdata() -> Path | None:
    """``../shared/realdata`` beside the checkout, or $LIPSOUND2_REALDATA."""
    env = os.environ.get("LIPSOUND2_REALDATA")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "realdata", ROOT.parent.parent / "shared" / "realdata"]
    for cand in candidates:
        if (cand / "GRID_rizkiarm_LipNet").is_dir():
            return cand
    return None


REALDATA = _find_realdata()


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Folder of real GRID, LRS2, LRS3 and VoxCeleb2-format clips; skips when absent."""
    if REALDATA is None:
        pytest.skip("real sample clips not found (set LIPSOUND2_REALDATA)")
    return REALDATA


@pytest.fixture(scope="session")
def grid_clips(realdata: Path) -> list[Path]:
    """The real GRID .mpg clips (360x288, 25 fps, 44.1 kHz stereo MPEG audio)."""
    return sorted((realdata / "GRID_rizkiarm_LipNet").glob("*.mpg"))

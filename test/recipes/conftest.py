"""Fixtures of the recipe tests: a tiny clip in each corpus container."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lipsound2.synthetic.video import write_clip


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 0.2 s clip in GRID's (mpg) and VoxCeleb2's (mp4) container settings."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3200) / 16000)).astype(np.float32)
    for kind in ("mpg", "mp4"):
        video = (rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(5))
        write_clip(d / f"x.{kind}", video, (64, 48), tone, 16000)
    return {kind: d / f"x.{kind}" for kind in ("mpg", "mp4")}

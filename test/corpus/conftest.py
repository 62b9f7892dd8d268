"""Small generated corpora shared by the corpus tests (generated once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lipsound2.corpus.generate import generate_grid, generate_voxceleb
from lipsound2.corpus.speech import FESTIVAL_VOICES, festival_available

GRID_SPEAKERS, GRID_UTTS = 3, 3


def _need_tools() -> None:
    if shutil.which("ffmpeg") is None or not all(festival_available(v) for v in FESTIVAL_VOICES):
        pytest.skip("ffmpeg, festival or its voices are not installed (tools/install.sh)")


@pytest.fixture(scope="session")
def grid_a(tmp_path_factory) -> Path:
    """Layout (a), seed 0, under a folder whose name has a space."""
    _need_tools()
    root = tmp_path_factory.mktemp("corpus") / "grid a"
    assert generate_grid(root, GRID_SPEAKERS, GRID_UTTS, seed=0, layout="a") == GRID_SPEAKERS * GRID_UTTS
    return root


@pytest.fixture(scope="session")
def grid_b(tmp_path_factory) -> Path:
    """Layout (b), same seed as ``grid_a``: the same utterances in the other release layout."""
    _need_tools()
    root = tmp_path_factory.mktemp("corpus") / "grid b"
    generate_grid(root, GRID_SPEAKERS, GRID_UTTS, seed=0, layout="b")
    return root


@pytest.fixture(scope="session")
def vox(tmp_path_factory) -> Path:
    """VoxCeleb2 layout: 2 dev speakers with 2 videos of 1 clip, 1 test speaker."""
    _need_tools()
    root = tmp_path_factory.mktemp("corpus") / "vox"
    generate_voxceleb(root, dev_speakers=2, test_speakers=1, videos=2, clips=1, seed=0)
    return root

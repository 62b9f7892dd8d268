"""Fixtures of the task tests: the tiny corpus and model config of ``tiny_lipsound2``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 training and 4 validation utterances of 6-10 frames (a folder with a space)."""
    root = tmp_path_factory.mktemp("tiny corpus")
    write_corpus(root / "train", 8, seed=1)
    write_corpus(root / "valid", 4, seed=2)
    return root


@pytest.fixture
def tiny_model_conf() -> dict:
    return json.loads(json.dumps(TINY_MODEL_CONF))

"""Fixtures of the stage-script tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipsound2_testing.recipe_dir import make_recipe


@pytest.fixture
def recipe(tmp_path: Path, root: Path) -> Path:
    """A throw-away recipe directory (see ``recipe_dir.make_recipe``)."""
    return make_recipe(tmp_path, root)

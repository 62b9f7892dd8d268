"""GRID's file naming: the sentence a clip's name encodes."""

from __future__ import annotations

import pytest

from lipsound2.corpus.grid import grid_code, grid_words


def test_grid_names():
    assert grid_code(["bin", "blue", "at", "f", "two", "now"]) == "bbaf2n"
    assert grid_words("lwbsza") == ["lay", "white", "by", "s", "zero", "again"]
    with pytest.raises(ValueError):
        grid_words("bbaf2")

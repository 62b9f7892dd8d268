"""Pieces of the split protocols: share splitting."""

from __future__ import annotations

import numpy as np

from lipsound2.corpus.datadir import split_shares


def test_a_zero_share_takes_nothing():
    items = [f"u{k}" for k in range(20)]
    train, dev, test = split_shares(items, (0.1, 0.0), np.random.default_rng(0))
    assert (len(train), len(dev), test) == (18, 2, [])
    train, dev, test = split_shares(items, (0.0, 0.0), np.random.default_rng(0))
    assert sorted(train) == sorted(items) and dev == test == []
    # a non-zero share still takes at least one of three or more
    assert [len(p) for p in split_shares(items[:3], (0.01, 0.01), np.random.default_rng(0))] == [1, 1, 1]

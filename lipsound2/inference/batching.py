"""Batching that leaves each utterance's result independent of its batch."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import torch


def utterance_generator(seed: int, key: str) -> torch.Generator:
    """The generator of one utterance's PreNet dropout: a function of ``seed`` and ``key`` only."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def length_sorted_batches(lengths: dict[str, int], batch_size: int) -> Iterator[list[str]]:
    """Keys in batches of ``batch_size``, longest first (ties by key), so that padding is small
    and the first batch, the largest, sets the peak memory."""
    order = sorted(lengths, key=lambda k: (-lengths[k], k))
    for i in range(0, len(order), batch_size):
        yield order[i : i + batch_size]

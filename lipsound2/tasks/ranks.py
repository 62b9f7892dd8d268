"""Randomness per distributed rank: what must agree across ranks and what must differ.

ESPnet's trainer seeds every rank with the same ``--seed`` before it builds the model (so the
initial weights agree; DistributedDataParallel also copies rank 0's) and seeds its loader
workers with ``seed + epoch + worker``, alike on every rank. Dropout and augmentation are
meant to differ between ranks: after the model is built, each rank reseeds with
``seed + rank``, and the face-track preprocessor mixes the rank into its own generator.
"""

from __future__ import annotations

import torch
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed


def distributed_rank() -> int:
    """This process's rank in a ``torch.distributed`` group (0 when there is none)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def seed_this_rank(seed: int) -> None:
    """Reseed Python, NumPy and torch with ``seed + rank`` (after the shared initialisation)."""
    set_all_random_seed(seed + distributed_rank())

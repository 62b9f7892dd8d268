"""How close an attention matrix is to the diagonal that synchronous video and audio imply."""

from __future__ import annotations

import torch


def diagonal_share(
    weights: torch.Tensor, in_lengths: torch.Tensor, out_lengths: torch.Tensor, band: float = 2.0
) -> torch.Tensor:
    """Per utterance, the mean attention mass within ``band`` encoder frames of the diagonal.

    ``weights`` is ``(B, L, N)``; output step ``t`` of an utterance with ``L_b`` frames and
    ``N_b`` video frames belongs near input frame ``t * N_b / L_b``. Returns ``(B,)`` in [0, 1].
    """
    b, length, n = weights.shape
    t = torch.arange(length, device=weights.device, dtype=weights.dtype)
    pos = torch.arange(n, device=weights.device, dtype=weights.dtype)
    centre = (
        (t[None, :] + 0.5) * in_lengths[:, None].to(weights.dtype) / out_lengths[:, None].to(weights.dtype)
    )
    near = ((pos[None, None, :] + 0.5 - centre[:, :, None]).abs() <= band).to(weights.dtype)
    valid = (t[None, :] < out_lengths[:, None]).to(weights.dtype)
    mass = (weights * near).sum(dim=2) * valid
    return mass.sum(dim=1) / valid.sum(dim=1).clamp_min(1.0)

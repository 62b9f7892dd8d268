"""What the decoder needs to know about mixed precision (``torch.autocast``, ESPnet's --use_amp).

Autocast runs products (``Linear``, ``bmm``, convolutions) in fp16 or bfloat16 and leaves the
rest in the inputs' dtype. A recurrence of up to 1000 decoder steps must not carry its state
in that precision: the decoder keeps its LSTM states and its attention (energies, weights,
cumulative weights, context) in fp32 (:func:`state_dtype`, :func:`full_precision`), and only the
products of the per-step ``Linear`` layers run in the lower precision.

Autocast casts a weight to the lower precision each time an op uses it, except a parameter
(a leaf that requires grad), whose cast it caches for the autocast region. The decoder's
per-step layers are called with detached or frozen weights, which autocast would cast again
at every step; :class:`~lipsound2.nets.step_linear.StepLinear` casts them once per pass with
:func:`autocast_dtype`.
"""

from __future__ import annotations

import contextlib

import torch


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast computes products in on ``device``'s type now, or None if it is off."""
    kind = device.type
    if hasattr(torch, "get_autocast_dtype"):  # torch >= 2.4
        return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
    if kind == "cuda":
        return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None
    if kind == "cpu":
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
    return None


def state_dtype(like: torch.Tensor) -> torch.dtype:
    """The dtype of recurrent state computed from ``like``: at least fp32 under autocast; without
    autocast ``like``'s own (a model converted as a whole, e.g. to bfloat16, keeps its dtype)."""
    if autocast_dtype(like.device) is None:
        return like.dtype
    return torch.promote_types(like.dtype, torch.float32)


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """A region in which autocast (if on for ``device``) is off: ops run in their inputs' dtype."""
    if autocast_dtype(device) is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, enabled=False)

"""The decoding options of the network: stage 5's inference YAML, ``lipsound2.bin.infer``'s
options and :class:`~lipsound2.inference.Video2Speech`'s arguments, with one set of defaults."""

from __future__ import annotations

import os
from typing import Any

from lipsound2.fileio.yamlio import load_yaml

# stop_mode / max_decode_steps None: the model's own (its training config)
INFERENCE_DEFAULTS: dict[str, Any] = {
    "stop_mode": None,
    "max_decode_steps": None,
    "batch_size": 8,
    "seed": 0,
    "precision": "fp32",
}


def load_inference_config(path: str | os.PathLike) -> dict[str, Any]:
    """The options an inference YAML sets; a key that is not an option is an error naming the file."""
    loaded = load_yaml(path)
    unknown = set(loaded) - set(INFERENCE_DEFAULTS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (known: {', '.join(INFERENCE_DEFAULTS)})")
    return loaded

"""The decoding options of the network: stage 5's inference YAML, ``lipsound2.bin.infer``'s
options and :class:`~lipsound2.inference.Video2Speech`'s arguments, with one set of defaults."""

from __future__ import annotations

import argparse
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


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--train_config``, ``--model_file`` and ``--frontend_config``: the trained model a
    program runs (the model file with its training config and front-end settings)."""
    parser.add_argument("--train_config", required=True, help="config.yaml of the training experiment")
    parser.add_argument("--model_file", required=True, help="model file, e.g. exp/x/valid.loss.best.pth")
    parser.add_argument(
        "--frontend_config",
        default=None,
        help="front-end YAML of the features (default: the experiment's frontend.yaml, else defaults)",
    )

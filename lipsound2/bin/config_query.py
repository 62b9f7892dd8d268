"""Answers the stage scripts' questions about config files, one word on standard output.

python -m lipsound2.bin.config_query n_mels FRONTEND_YAML      # mel bands: 80
python -m lipsound2.bin.config_query unit_head TRAIN_YAML      # true when model_conf unit_weight > 0
python -m lipsound2.bin.config_query speaker_input VOCODER_YAML  # true with a speaker section
python -m lipsound2.bin.config_query decoder_side              # the modules an audio model gives
python -m lipsound2.bin.config_query vocoder_training TYPE     # true when stage 6 trains TYPE

A vocoder type the factory does not know is an error that lists the types it knows.
"""

from __future__ import annotations

import argparse
import sys

from lipsound2.fileio.yamlio import load_yaml


def _bool(value: bool) -> str:
    return str(value).lower()


def answer(question: str, path: str | None) -> str:
    """The answer to ``question`` about the file ``path`` (a vocoder type for
    ``vocoder_training``)."""
    if question == "decoder_side":
        from lipsound2.nets.lipsound2 import DECODER_SIDE

        return " ".join(DECODER_SIDE)
    if path is None:
        raise ValueError(f"{question} needs a file")
    if question == "vocoder_training":
        from lipsound2.vocoders.types import TRAINED_TYPES, VOCODER_TYPES

        if path not in VOCODER_TYPES:
            raise ValueError(f"--vocoder_type must be one of: {' '.join(VOCODER_TYPES)}; got '{path}'")
        return _bool(path in TRAINED_TYPES)
    if question == "n_mels":
        from lipsound2.frontend.config import load_config

        return str(load_config(path).mel.n_mels)
    config = load_yaml(path)
    if question == "unit_head":
        return _bool(float((config.get("model_conf") or {}).get("unit_weight", 0)) > 0)
    if question == "speaker_input":
        return _bool(config.get("speaker") is not None)
    raise ValueError(f"unknown question {question}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "question", choices=("n_mels", "unit_head", "speaker_input", "decoder_side", "vocoder_training")
    )
    p.add_argument("path", nargs="?", default=None, help="the config file (or vocoder type) asked about")
    args = p.parse_args(argv)
    try:
        print(answer(args.question, args.path))
    except (OSError, ValueError) as exc:
        print(f"config_query {args.question}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

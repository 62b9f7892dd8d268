"""Pick a vocoder by name from a recipe's vocoder config."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.griffin_lim import GriffinLimVocoder
from lipsound2.vocoders.hifigan import HiFiGANVocoder
from lipsound2.vocoders.hifigan_pretrained import PretrainedHiFiGANVocoder
from lipsound2.vocoders.hifigan_units import HiFiGANUnitsVocoder
from lipsound2.vocoders.types import TRAINED_TYPES, VOCODER_TYPES


def load_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """The vocoder YAML as a dict (empty when no file is given)."""
    return {} if path is None else load_yaml(path)


def add_vocoder_arguments(parser: argparse.ArgumentParser) -> None:
    """``--vocoder_type``, ``--vocoder_config`` and ``--vocoder_file``, the arguments of
    :func:`build_vocoder` (with :func:`load_config`) on a command line."""
    parser.add_argument("--vocoder_type", choices=VOCODER_TYPES, default="griffin_lim")
    parser.add_argument(
        "--vocoder_config", default=None, help="vocoder YAML (griffin_lim and hifigan_pretrained settings)"
    )
    parser.add_argument(
        "--vocoder_file", default=None, help="HiFi-GAN checkpoint (vocoder.pth) of hifigan or hifigan_units"
    )


def build_vocoder(
    vocoder_type: str,
    config: dict[str, Any],
    mel: MelConfig,
    vocoder_file: str | os.PathLike | None = None,
) -> GriffinLimVocoder | HiFiGANVocoder | HiFiGANUnitsVocoder | PretrainedHiFiGANVocoder:
    """A callable ``log_mel (frames, n_mels) -> waveform`` for features made with ``mel``
    (the front end's settings), for the ``UNIT_TYPES`` ``(log_mel, units (frames,)) ->
    waveform``; a HiFi-GAN trained on other settings is refused, and so are settings the
    pre-trained HiFi-GAN's mel bridge cannot carry over."""
    if vocoder_type == "griffin_lim":
        return GriffinLimVocoder(mel, **config.get("griffin_lim", {}))
    if vocoder_type == "hifigan_pretrained":
        return PretrainedHiFiGANVocoder(mel, **config.get("hifigan_pretrained", {}))
    if vocoder_type in TRAINED_TYPES:
        if not vocoder_file:
            raise ValueError(
                f"vocoder_type {vocoder_type} needs a vocoder file "
                "(train one in stage 6 or pass --vocoder_file)"
            )
        if not Path(vocoder_file).is_file():
            raise FileNotFoundError(f"vocoder file not found: {vocoder_file}")
        if vocoder_type == "hifigan_units":
            return HiFiGANUnitsVocoder(vocoder_file, mel)
        return HiFiGANVocoder(vocoder_file, mel)
    raise ValueError(f"unknown vocoder type {vocoder_type!r} (one of {', '.join(VOCODER_TYPES)})")

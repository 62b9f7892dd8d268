"""HiFi-GAN on the front end's log-mel (replaces the paper's WaveGlow).

The generator, discriminators and losses are ESPnet's (``espnet2.gan_tts.hifigan``); this
module only fixes their shapes to our mel (``n_mels`` bands in, ``prod(upsample_scales) ==
hop_length`` samples out per frame) and stores a checkpoint as plain tensors and settings
(the mel settings it was trained on included), so that ``torch.load(..., weights_only=True)``
can read a vocoder file a user brings and a file trained on other features is refused.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from espnet2.gan_tts.hifigan import HiFiGANGenerator

from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.griffin_lim import output_length

CHECKPOINT_FORMAT = "lipsound2-hifigan-1"
UNITS_CHECKPOINT_FORMAT = "lipsound2-hifigan-units-1"  # mel + speech units (hifigan_units.py)


def build_generator(params: dict[str, Any], config: MelConfig) -> HiFiGANGenerator:
    """An ESPnet HiFi-GAN generator whose upsampling matches the mel hop."""
    params = dict(params)
    scales = params.get("upsample_scales", [8, 8, 2, 2])
    if math.prod(scales) != config.hop_length:
        raise ValueError(
            f"generator upsample_scales {scales} multiply to {math.prod(scales)}, but the front end's "
            f"mel hop_length is {config.hop_length}: set upsample_scales in the vocoder config to match"
        )
    params.setdefault("in_channels", config.n_mels)
    params.setdefault("out_channels", 1)
    return HiFiGANGenerator(**params)


def save_checkpoint(
    path: str | os.PathLike,
    generator: torch.nn.Module,
    generator_params: dict[str, Any],
    config: MelConfig,
    steps: int,
    units: dict[str, int] | None = None,
    speaker: dict[str, Any] | None = None,
) -> None:
    """Write the generator and its settings (atomically); ``units`` (``k``, ``dim``) marks a
    generator that takes speech units beside the mel, ``speaker`` (``dim`` and a
    :meth:`~lipsound2.vocoders.speaker.SpeakerTable.to_state`) one that also takes a speaker
    embedding."""
    from lipsound2.fileio.atomic import atomic_path

    state = {
        "format": CHECKPOINT_FORMAT if units is None else UNITS_CHECKPOINT_FORMAT,
        "generator": generator.state_dict(),
        "generator_params": generator_params,
        "mel": config.to_dict(),
        "steps": steps,
    }
    if units is not None:
        state["units"] = dict(units)
    if speaker is not None:
        state["speaker"] = dict(speaker)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(checkpoint: str | os.PathLike, expected: str, mel: MelConfig | None) -> dict[str, Any]:
    """A checkpoint's state, checked to be of format ``expected`` and (unless ``mel`` is None)
    trained on the mel settings ``mel``; ``ValueError`` names what differs."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    found = state.get("format") if isinstance(state, dict) else None
    if found != expected:
        hint = {
            CHECKPOINT_FORMAT: ": a mel-only HiFi-GAN, use --vocoder_type hifigan",
            UNITS_CHECKPOINT_FORMAT: ": a mel + units HiFi-GAN, use --vocoder_type hifigan_units",
        }.get(found, "")
        raise ValueError(f"{checkpoint}: not a LipSound2 HiFi-GAN checkpoint of format {expected}{hint}")
    config = MelConfig(**state["mel"])
    if mel is not None and mel != config:
        theirs, ours = config.to_dict(), mel.to_dict()
        diff = ", ".join(f"{k} {theirs[k]} (front end: {ours[k]})" for k in ours if ours[k] != theirs[k])
        raise ValueError(f"{checkpoint}: trained on other mel settings: {diff}")
    return state


class HiFiGANVocoder:
    """Log-mel ``(frames, n_mels)`` to waveform with a trained HiFi-GAN generator.

    ``mel``: the settings of the features to vocode; a checkpoint trained on other settings
    raises ``ValueError`` naming each difference (None: the checkpoint's own settings).
    """

    def __init__(self, checkpoint: str | os.PathLike, mel: MelConfig | None = None) -> None:
        state = load_checkpoint(checkpoint, CHECKPOINT_FORMAT, mel)
        self.config = MelConfig(**state["mel"])
        self.generator = build_generator(state["generator_params"], self.config)
        self.generator.load_state_dict(state["generator"])
        self.generator.remove_weight_norm()
        self.generator.eval()
        self.steps = int(state["steps"])

    def __call__(self, log_mel: np.ndarray) -> np.ndarray:
        mel = torch.as_tensor(np.asarray(log_mel, dtype=np.float32))
        if mel.ndim != 2 or mel.shape[1] != self.config.n_mels:
            raise ValueError(f"expected a (frames, {self.config.n_mels}) mel, got {tuple(mel.shape)}")
        with torch.no_grad():
            wav = self.generator(mel.T.unsqueeze(0)).reshape(-1)
        return wav[: output_length(mel.shape[0], self.config)].numpy().astype(np.float32)

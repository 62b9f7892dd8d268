"""HiFi-GAN at 16 kHz with hop 256 on the paper's log-mel (replaces the paper's WaveGlow).

The generator, discriminators and losses are ESPnet's (``espnet2.gan_tts.hifigan``); this
module only fixes their shapes to our mel (80 bands in, ``prod(upsample_scales) == 256``
samples out per frame) and stores a checkpoint as plain tensors and settings, so that
``torch.load(..., weights_only=True)`` can read a vocoder file a user brings.
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


def build_generator(params: dict[str, Any], config: MelConfig) -> HiFiGANGenerator:
    """An ESPnet HiFi-GAN generator whose upsampling matches the mel hop."""
    params = dict(params)
    scales = params.get("upsample_scales", [8, 8, 2, 2])
    if math.prod(scales) != config.hop_length:
        raise ValueError(
            f"upsample_scales {scales} multiply to {math.prod(scales)}, mel hop is {config.hop_length}"
        )
    params.setdefault("in_channels", config.n_mels)
    params.setdefault("out_channels", 1)
    return HiFiGANGenerator(**params)


def save_checkpoint(
    path: str | os.PathLike,
    generator: HiFiGANGenerator,
    generator_params: dict[str, Any],
    config: MelConfig,
    steps: int,
) -> None:
    """Write the generator and its settings (atomically)."""
    from lipsound2.fileio.atomic import atomic_path

    state = {
        "format": CHECKPOINT_FORMAT,
        "generator": generator.state_dict(),
        "generator_params": generator_params,
        "mel": config.to_dict(),
        "steps": steps,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class HiFiGANVocoder:
    """Log-mel ``(frames, n_mels)`` to waveform with a trained HiFi-GAN generator."""

    def __init__(self, checkpoint: str | os.PathLike) -> None:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{checkpoint}: not a LipSound2 HiFi-GAN checkpoint (expected format {CHECKPOINT_FORMAT})"
            )
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

"""HiFi-GAN fed the log-mel and the speech units together (the speech-units paper's vocoder).

Each mel frame is joined with a learned embedding of its unit (one unit per mel frame, as
stage 2 writes them), and the ESPnet generator of ``hifigan.py`` upsamples the
``n_mels + dim`` channels to ``hop`` samples per frame. A blurry predicted mel then still has
the units' sharp phonetic content to go on. The paper's optional speaker embedding is not an
input here (see docs/vocoders_asr_scoring.md).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.griffin_lim import output_length
from lipsound2.vocoders.hifigan import UNITS_CHECKPOINT_FORMAT, build_generator, load_checkpoint


class UnitMelGenerator(torch.nn.Module):
    """``(B, n_mels, T)`` mel and ``(B, T)`` units to ``(B, 1, T * hop)`` waveform."""

    def __init__(self, k: int, dim: int, generator_params: dict[str, Any], config: MelConfig) -> None:
        super().__init__()
        if k < 1 or dim < 1:
            raise ValueError(f"unit embedding needs k >= 1 and dim >= 1, got k {k}, dim {dim}")
        self.k = k
        self.embedding = torch.nn.Embedding(k, dim)
        self.hifigan = build_generator({**generator_params, "in_channels": config.n_mels + dim}, config)

    def forward(self, mel: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
        if units.shape != (mel.shape[0], mel.shape[2]):
            raise ValueError(f"units {tuple(units.shape)} do not match mel {tuple(mel.shape)} (B, n_mels, T)")
        embedded = self.embedding(units).transpose(1, 2)
        return self.hifigan(torch.cat([mel, embedded], dim=1))


class HiFiGANUnitsVocoder:
    """Log-mel ``(frames, n_mels)`` and units ``(frames,)`` to a waveform of
    ``(frames - 1) * hop`` samples, as the mel-only vocoders give.

    ``mel``: the settings of the features to vocode; a checkpoint trained on other settings
    raises ``ValueError`` naming each difference (None: the checkpoint's own settings).
    """

    def __init__(self, checkpoint: str | os.PathLike, mel: MelConfig | None = None) -> None:
        state = load_checkpoint(checkpoint, UNITS_CHECKPOINT_FORMAT, mel)
        self.config = MelConfig(**state["mel"])
        self.k, dim = int(state["units"]["k"]), int(state["units"]["dim"])
        self.generator = UnitMelGenerator(self.k, dim, state["generator_params"], self.config)
        self.generator.load_state_dict(state["generator"])
        self.generator.hifigan.remove_weight_norm()
        self.generator.eval()
        self.steps = int(state["steps"])

    def __call__(self, log_mel: np.ndarray, units: np.ndarray) -> np.ndarray:
        mel = torch.from_numpy(np.array(log_mel, dtype=np.float32))  # a copy: ark arrays are read-only
        if mel.ndim != 2 or mel.shape[1] != self.config.n_mels:
            raise ValueError(f"expected a (frames, {self.config.n_mels}) mel, got {tuple(mel.shape)}")
        units = np.asarray(units)
        if units.ndim != 1 or len(units) != len(mel):
            raise ValueError(f"{units.shape[0] if units.ndim else 0} units for {len(mel)} mel frames")
        in_range = not len(units) or (units.min() >= 0 and units.max() < self.k)
        if not np.issubdtype(units.dtype, np.integer) or not in_range:
            raise ValueError(
                f"units must be integers in 0..{self.k - 1} (the vocoder's k), "
                f"got {units.dtype} {units.min() if len(units) else ''}..{units.max() if len(units) else ''}"
            )
        with torch.no_grad():
            wav = self.generator(mel.T.unsqueeze(0), torch.from_numpy(units.astype(np.int64)).unsqueeze(0))
        return wav.reshape(-1)[: output_length(len(mel), self.config)].numpy().astype(np.float32)

"""Griffin-Lim inversion of the paper's log-mel: the baseline vocoder (no training).

The log is undone, the Slaney filter bank of the mel settings is inverted with its
pseudo-inverse (negative magnitudes clipped to zero), and Griffin-Lim iterates phase
estimates for their STFT. The waveform has ``(frames - 1) * hop`` samples, so the centred
STFT of the output gives back exactly ``frames`` mel frames.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from lipsound2.frontend.mel import MelConfig


def output_length(frames: int, config: MelConfig) -> int:
    """Samples a vocoder returns for ``frames`` mel frames (inverse of ``num_frames``)."""
    return max(frames - 1, 0) * config.hop_length


class GriffinLimVocoder:
    """Log-mel ``(frames, n_mels)`` to a peak-normalised float32 waveform."""

    def __init__(self, config: MelConfig | None = None, n_iter: int = 32, momentum: float = 0.99) -> None:
        self.config = c = config or MelConfig()
        fbank = torchaudio.functional.melscale_fbanks(
            n_freqs=c.n_fft // 2 + 1,
            f_min=c.f_min,
            f_max=c.f_max,
            n_mels=c.n_mels,
            sample_rate=c.sample_rate,
            norm="slaney",
            mel_scale="slaney",
        )  # (n_freqs, n_mels): mel = fbank.T @ spec
        self.inverse = torch.linalg.pinv(fbank.T)  # (n_freqs, n_mels)
        self.window = torch.hann_window(c.win_length)
        self.n_iter = n_iter
        self.momentum = momentum

    def __call__(self, log_mel: np.ndarray) -> np.ndarray:
        mel = torch.exp(torch.tensor(np.asarray(log_mel, dtype=np.float32))).T  # (n_mels, frames)
        frames = mel.shape[1]
        length = output_length(frames, self.config)
        if length == 0:
            return np.zeros(0, np.float32)
        # the inverse STFT needs a few frames to cover its window: pad very short inputs with silence
        min_frames = self.config.n_fft // self.config.hop_length + 1
        if frames < min_frames:
            mel = torch.nn.functional.pad(mel, (0, min_frames - frames), value=self.config.clip)
        spec = (self.inverse @ mel).clamp_min(0.0)
        c = self.config
        with torch.no_grad():
            wav = torchaudio.functional.griffinlim(
                spec,
                self.window,
                c.n_fft,
                c.hop_length,
                c.win_length,
                1.0,
                self.n_iter,
                self.momentum,
                output_length(mel.shape[1], c),
                False,
            )[:length]
        peak = wav.abs().max().clamp_min(1e-8)
        return (0.95 * wav / peak).numpy().astype(np.float32)

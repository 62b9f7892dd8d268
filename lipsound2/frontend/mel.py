"""The log-mel spectrogram, shared by features, vocoders and scoring; by default the paper's
(section IV-C-2), the settings of the template's ``conf/frontend.yaml``:

16 kHz audio, waveform divided by its maximum magnitude, STFT magnitude with a 1024-sample
(64 ms) Hann window, 256-sample (16 ms) hop and 1024-point FFT, 80 mel bands (Slaney scale
and area normalisation, as librosa and Tacotron 2 use), clipped at 1e-5, natural log.
That gives 62.5 frames per second, 2.5 per video frame at 25 fps.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from lipsound2.frontend.config import MelConfig


class LogMel(torch.nn.Module):
    """Waveform ``(..., samples)`` to log-mel ``(..., frames, n_mels)``."""

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = config or MelConfig()
        c = self.config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=c.sample_rate,
            n_fft=c.n_fft,
            win_length=c.win_length,
            hop_length=c.hop_length,
            f_min=c.f_min,
            f_max=c.f_max,
            n_mels=c.n_mels,
            power=1.0,
            center=True,
            pad_mode="reflect",
            norm="slaney",
            mel_scale="slaney",
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if self.config.peak_normalize:
            peak = wav.abs().amax(dim=-1, keepdim=True).clamp_min(1e-8)
            wav = wav / peak
        mel = self.mel(wav)  # (..., n_mels, frames)
        return torch.log(mel.clamp_min(self.config.clip)).transpose(-1, -2)


def log_mel(wav: np.ndarray, config: MelConfig | None = None) -> np.ndarray:
    """Log-mel of a mono float waveform at ``config.sample_rate``: ``(frames, n_mels)`` float32."""
    module = LogMel(config)
    with torch.no_grad():
        out = module(torch.as_tensor(np.asarray(wav, dtype=np.float32)))
    return out.numpy().astype(np.float32)


def num_frames(num_samples: int, config: MelConfig | None = None) -> int:
    """Frames :func:`log_mel` gives for a waveform of ``num_samples`` (centred STFT)."""
    config = config or MelConfig()
    return num_samples // config.hop_length + 1

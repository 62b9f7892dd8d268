"""Degrade a ground-truth log-mel so that it looks like a predicted one (training only).

A network's mel is smoother than the real one and a little off everywhere. The speech-units
paper's augmented multi-input vocoder therefore learns from ground-truth mel that is blurred
along time and frequency and has Gaussian noise added, while its loss still compares the
output with the real audio. Each example draws its own strengths, uniformly between zero and
the configured maxima, from a generator seeded once, so a run is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class MelAugment:
    """The ``augment`` section of a vocoder config (all zero: no augmentation)."""

    blur_time: float = 1.5  # largest Gaussian blur deviation along time, in frames
    blur_freq: float = 1.5  # largest Gaussian blur deviation along the mel bands, in bands
    noise_std: float = 0.3  # largest deviation of the noise added to the log-mel (natural log)

    def __post_init__(self) -> None:
        for name in ("blur_time", "blur_freq", "noise_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"augment {name} must be >= 0, got {getattr(self, name)}")

    def __call__(self, mel: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """``mel`` ``(B, n_mels, frames)`` blurred and noised; a new tensor."""
        out = []
        maxima = torch.tensor([self.blur_time, self.blur_freq, self.noise_std])
        for example in mel:
            time_sigma, freq_sigma, noise = (torch.rand(3, generator=rng) * maxima).tolist()
            x = _blur(_blur(example, time_sigma, dim=1), freq_sigma, dim=0)
            out.append(x + noise * torch.randn(x.shape, generator=rng))
        return torch.stack(out)


def _blur(x: torch.Tensor, sigma: float, dim: int) -> torch.Tensor:
    """Gaussian blur of a 2-D tensor along ``dim``, edges replicated (no darkening at the ends)."""
    if sigma < 1e-3:
        return x
    radius = max(1, int(3 * sigma + 0.5))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    rows = x if dim == 1 else x.T  # rows are blurred along their length
    padded = torch.nn.functional.pad(rows.unsqueeze(1), (radius, radius), mode="replicate")
    blurred = torch.nn.functional.conv1d(padded, kernel).squeeze(1)
    return blurred if dim == 1 else blurred.T

"""The one wav reader and writer: mono float32 in memory, 16-bit PCM on disk.

The sample rate is always the caller's: the front end's ``audio.sample_rate`` for features,
vocoders and prepared audio, a metric's or a recogniser's own input rate for scoring.
"""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from lipsound2.fileio.atomic import atomic_path


def read_wav(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Mono float32 waveform (channels averaged); raises ``ValueError`` naming the file on a rate mismatch."""
    wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise ValueError(f"{path}: sample rate {sr}, expected {sample_rate}")
    return wav.mean(axis=1)


def write_wav(path: str | os.PathLike, wav: np.ndarray, sample_rate: int) -> None:
    """Write 16-bit PCM through a temporary name; the waveform is clipped to [-1, 1]."""
    data = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sample_rate, subtype="PCM_16", format="WAV")

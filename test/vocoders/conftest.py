"""Real GRID audio decoded to 16 kHz mono with PyAV, written to wav files once per session."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lipsound2.fileio.wav import write_wav


def decode_audio_16k(path: Path) -> np.ndarray:
    """The first audio stream of a media file as 16 kHz mono float32."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks)


@pytest.fixture(scope="session")
def grid_wavs(grid_clips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """16 kHz wav files of the real GRID clips (one per speaker)."""
    out = tmp_path_factory.mktemp("grid wav")  # a space on purpose: paths with spaces must work
    paths = []
    for clip in grid_clips:
        path = out / f"{clip.stem}.wav"
        write_wav(path, decode_audio_16k(clip), 16000)
        paths.append(path)
    return paths

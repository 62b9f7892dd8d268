"""The one wav reader/writer: the caller's rate, checked on reading; nothing half-written."""

from __future__ import annotations

import numpy as np
import pytest

from lipsound2.fileio.wav import read_wav, write_wav


def test_round_trip_at_the_callers_rate(tmp_path):
    wav = np.sin(np.linspace(0, 200, 8000)).astype(np.float32) * 0.5
    path = tmp_path / "a dir" / "x.wav"
    write_wav(path, wav, 8000)
    back = read_wav(path, 8000)
    assert back.dtype == np.float32 and len(back) == len(wav)
    assert np.abs(back - wav).max() < 1e-4  # 16-bit PCM
    with pytest.raises(ValueError, match=r"x\.wav: sample rate 8000, expected 16000"):
        read_wav(path, 16000)


def test_a_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "x.wav"
    with pytest.raises(RuntimeError):  # libsndfile refuses a zero rate
        write_wav(path, np.zeros(100, np.float32), 0)
    assert list(tmp_path.iterdir()) == []

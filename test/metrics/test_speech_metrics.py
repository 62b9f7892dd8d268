"""PESQ / STOI / ESTOI with known answers on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from lipsound2.fileio.wav import read_wav
from lipsound2.metrics.speech import SAMPLE_RATE, speech_scores


@pytest.fixture(scope="module")
def speech(realdata):
    wav = read_wav(realdata / "LRS2_smeetrs_deep_avsr" / "00001.wav", SAMPLE_RATE)
    return wav / np.abs(wav).max()


def test_signal_against_itself_is_perfect(speech):
    s = speech_scores(speech, speech)
    assert s.pesq_nb == pytest.approx(4.55, abs=0.1)
    assert s.pesq_wb == pytest.approx(4.64, abs=0.1)
    assert s.estoi == pytest.approx(1.0, abs=1e-3)
    assert s.stoi == pytest.approx(1.0, abs=1e-3)


def test_noise_scores_low(speech):
    noise = np.random.default_rng(0).normal(0, 0.1, len(speech)).astype(np.float32)
    s = speech_scores(speech, noise)
    assert s.pesq_nb < 1.8 and s.pesq_wb < 1.5
    assert s.estoi < 0.15 and s.stoi < 0.5


def test_scores_fall_with_noise_level(speech):
    rng = np.random.default_rng(1)
    mild = speech_scores(speech, speech + rng.normal(0, 0.01, len(speech)))
    strong = speech_scores(speech, speech + rng.normal(0, 0.2, len(speech)))
    assert mild.estoi > strong.estoi and mild.pesq_wb > strong.pesq_wb


def test_length_mismatch_is_cut_and_rate_checked(speech):
    s = speech_scores(speech, speech[: len(speech) - 300])
    assert s.estoi > 0.99
    with pytest.raises(ValueError, match="16000"):
        speech_scores(speech, speech, sample_rate=8000)

"""The shared log-mel (lipsound2/frontend/mel.py) against an independent librosa computation."""

from __future__ import annotations

import librosa
import numpy as np

from lipsound2.frontend.decode import decode_audio
from lipsound2.frontend.mel import MelConfig, log_mel, num_frames


def librosa_log_mel(wav: np.ndarray) -> np.ndarray:
    """The paper's recipe written out with librosa: peak-normalise, |STFT|, mel, clip, ln."""
    wav = wav / np.abs(wav).max()
    spec = np.abs(
        librosa.stft(
            wav, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=True, pad_mode="reflect"
        )
    )
    bank = librosa.filters.mel(
        sr=16000, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0, htk=False, norm="slaney"
    )
    return np.log(np.maximum(bank @ spec, 1e-5)).T


def test_log_mel_matches_librosa_on_grid_audio(grid_clips):
    for clip in grid_clips[:3]:
        wav = decode_audio(str(clip))
        ours = log_mel(wav)
        ref = librosa_log_mel(wav.astype(np.float64))
        assert ours.dtype == np.float32
        assert ours.shape == ref.shape == (num_frames(len(wav)), 80)
        # Bins above the floor agree to float32 precision in the linear domain (0.1 %);
        # near the 1e-5 floor the log magnifies rounding, so compare those absolutely.
        loud = ref > np.log(1e-3)
        assert np.max(np.abs(np.exp(ours[loud]) / np.exp(ref[loud]) - 1)) < 1e-3
        assert np.max(np.abs(ours - ref)) < 0.05
        assert ours.min() >= np.log(1e-5) - 1e-6


def test_mel_frame_rate_is_two_and_a_half_per_video_frame():
    config = MelConfig()
    assert config.frames_per_second == 62.5
    for video_frames in (1, 75, 131):
        samples = video_frames * 640  # 40 ms of 16 kHz audio per 25 fps frame
        assert num_frames(samples) == int(2.5 * video_frames) + 1
        assert len(
            log_mel(np.random.default_rng(0).standard_normal(samples).astype(np.float32))
        ) == num_frames(samples)


def test_peak_normalisation_makes_the_level_irrelevant(grid_clip):
    wav = decode_audio(str(grid_clip))
    np.testing.assert_allclose(log_mel(wav), log_mel(0.1 * wav), atol=1e-4)

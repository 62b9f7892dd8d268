"""``Video2Speech``: one utterance or many give the same speech; a bad track is named and the
others go on; clear errors for a missing vocoder, GPU or statistics file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lipsound2.inference import Video2Speech
from lipsound2.tasks.face_track_type import FaceTrackReader
from lipsound2_testing.tiny_lipsound2 import make_utterance, write_corpus, write_experiment


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("v2s")
    data = write_corpus(root / "data", 4, seed=21)
    exp = write_experiment(root / "exp", stats_of=data / "feats.scp")
    return exp, dict(FaceTrackReader(str(data / "video.scp")).items())


def _model(exp: Path, **options) -> Video2Speech:
    options = {"stop_mode": "known_length", "max_decode_steps": 30, **options}
    return Video2Speech(exp / "config.yaml", exp / "model.pth", **options)


def test_one_track_or_a_batch_give_the_same_speech(setup):
    exp, tracks = setup
    v2s = _model(exp, batch_size=3)
    assert (v2s.sample_rate, v2s.fps, v2s.frontend.crop.size) == (16000, 25.0, 112)
    speech = v2s.batch(tracks)
    assert list(speech) == list(tracks)
    key = next(iter(tracks))
    alone = v2s(tracks[key], key)
    np.testing.assert_allclose(alone.mel, speech[key].mel, rtol=1e-4, atol=1e-5)
    assert alone.wav.dtype == np.float32 and len(alone.wav) == (len(alone.mel) - 1) * 256
    # an RGB track of the same frames (stage 1 writes colour crops) gives the same mel
    rgb = v2s(np.repeat(tracks[key][..., None], 3, axis=-1), key)
    np.testing.assert_allclose(rgb.mel, alone.mel, rtol=1e-4, atol=1e-5)
    # another key draws other dropout masks
    assert np.abs(v2s(tracks[key], "other").mel - alone.mel).max() > 0.01


def test_a_bad_track_is_named_and_the_others_are_decoded(setup):
    exp, tracks = setup
    v2s = _model(exp, batch_size=8)
    small = make_utterance(np.random.default_rng(0), 6, size=64)[0]
    bad = {**tracks, "small": small, "empty": tracks[next(iter(tracks))][:0]}
    failed: dict[str, Exception] = {}
    speech = v2s.batch(bad, failed)
    assert sorted(speech) == sorted(tracks) and sorted(failed) == ["empty", "small"]
    assert "64x64 pixels; the model takes 112x112 crops" in str(failed["small"])
    with pytest.raises(RuntimeError, match="utterance small: decoding failed: face track frames are 64x64"):
        v2s(small, "small")


def test_without_a_vocoder_only_the_mel(setup):
    exp, tracks = setup
    v2s = _model(exp, vocoder_type=None)
    assert set(v2s.mel(tracks)) == set(tracks)
    with pytest.raises(ValueError, match="no vocoder"):
        v2s.batch(tracks)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_cuda_without_a_gpu_is_a_clear_error(setup):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        _model(setup[0], device="cuda")


def test_a_moved_statistics_file_is_named(setup, tmp_path):
    exp, _ = setup
    moved = tmp_path / "stats.npz"
    (exp / "feats_stats.npz").rename(moved)
    try:
        with pytest.raises(FileNotFoundError, match="feats_stats.npz"):
            _model(exp)
        assert _model(exp, stats_file=moved).model.normalize is not None
    finally:
        moved.rename(exp / "feats_stats.npz")


def test_after_running_out_of_gpu_memory_the_batch_is_retried_one_by_one_outside_the_handler(setup):
    """An injected CUDA out-of-memory error on the whole batch: each utterance is decoded
    alone, with no exception being handled at the time (its traceback would keep the failed
    batch's activations alive), and the speech equals a decode that never failed."""
    exp, tracks = setup
    v2s = _model(exp, batch_size=8)
    expected = v2s.mel(tracks)
    generate = v2s._generate
    retries: list[tuple[list[str], object]] = []

    def out_of_memory_on_batches(keys, batch_tracks):
        if len(keys) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        retries.append((keys, sys.exc_info()[1]))
        return generate(keys, batch_tracks)

    v2s._generate = out_of_memory_on_batches
    got = v2s.mel(tracks)
    assert sorted(key for keys, _ in retries for key in keys) == sorted(tracks)
    assert all(handling is None for _, handling in retries)
    for key in tracks:
        np.testing.assert_allclose(got[key].mel, expected[key].mel, rtol=1e-5, atol=1e-6)
    # one utterance that does not fit alone is named, and the others still decode
    v2s._generate = lambda keys, t: (_ for _ in ()).throw(torch.cuda.OutOfMemoryError("injected"))
    failed: dict[str, Exception] = {}
    assert v2s.mel(tracks, failed) == {} and sorted(failed) == sorted(tracks)
    assert all(isinstance(exc, torch.cuda.OutOfMemoryError) for exc in failed.values())

"""The audio pre-training network: its encoder's rate, size and bottleneck, its corruption, and
a decoder side that is LipSound2's, key by key."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
import yaml

from lipsound2.nets.audio_encoder import AudioEncoder, rate_ratio
from lipsound2.nets.lipsound2 import DECODER_SIDE
from lipsound2.tasks.build import build_model

SPECAUG = {
    "apply_freq_mask": True,
    "freq_mask_width_range": [0, 20],
    "num_freq_mask": 2,
    "apply_time_mask": True,
    "time_mask_width_range": [0, 10],
    "num_time_mask": 2,
}


def _encoder(**conf) -> AudioEncoder:
    torch.manual_seed(0)
    return AudioEncoder(
        80, 2.5, **{"output_size": 64, "conv_channels": 16, "lstm_units": 16, "bottleneck": 5, **conf}
    )


def test_frames_at_the_video_rate_and_size():
    enc = _encoder().eval()
    lengths = torch.tensor([100, 57, 3])
    memory, out_lengths = enc(torch.randn(3, 100, 80), lengths)
    assert out_lengths.tolist() == [40, 23, 2]  # ceil(L / 2.5)
    assert memory.shape == (3, 40, 64)
    assert memory[1, 23:].abs().sum() == 0 and memory[2, 2:].abs().sum() == 0
    assert rate_ratio(2.5) == (5, 2) and rate_ratio(62.5 / 30) == (25, 12)
    with pytest.raises(ValueError, match="small whole numbers"):
        rate_ratio(2.0**0.5)


def test_memory_spans_no_more_than_the_bottleneck():
    """Whatever the input, every memory frame is an affine image of a 5-number code: all the
    frames of a batch span at most 6 dimensions of the 64 (an input copied through would need
    the 200 values of each frame's 2.5 mel frames)."""
    enc = _encoder().eval()
    memory, lengths = enc(torch.randn(4, 120, 80) * 3, torch.tensor([120, 120, 90, 60]))
    frames = torch.cat([memory[i, : lengths[i]] for i in range(4)])
    assert frames.shape == (48 + 48 + 36 + 24, 64)
    ones = torch.ones(len(frames), 1)
    assert torch.linalg.matrix_rank(torch.cat([frames, ones], dim=1), rtol=1e-4) <= 6


def test_input_is_corrupted_in_training_only():
    enc = _encoder(specaug_conf=SPECAUG, noise_std=0.5, dropout=0.0)
    feats, lengths = torch.randn(2, 50, 80), torch.tensor([50, 40])
    enc.eval()
    assert torch.equal(enc(feats, lengths)[0], enc(feats, lengths)[0])
    corrupted = enc.corrupt(feats, lengths)
    assert (corrupted != feats).float().mean() > 0.9  # noise everywhere
    enc.train()
    torch.manual_seed(1)
    masked = enc.specaug(feats.clone(), lengths)[0]
    assert (masked == 0).any()  # SpecAug's masks zero whole bands and spans


def _args(tmp_path, lipsound2_model_conf: dict, **audio_conf) -> argparse.Namespace:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"model_conf": lipsound2_model_conf}))
    conf = {"encoder_conf": {"conv_channels": 8, "lstm_units": 8, "bottleneck": 4}, **audio_conf}
    return argparse.Namespace(
        frontend_config=None, lipsound2_config=str(config), model_conf=conf, normalize=None
    )


def test_the_decoder_side_is_lipsound2s_key_by_key(tmp_path):
    lipsound2_conf = {
        "encoder_conf": {"channels": [4, 8, 8], "lstm_units": 12},
        "decoder_conf": {"prenet_sizes": [32, 16], "attention_lstm_units": 48, "decoder_lstm_units": 40,
                         "attention_size": 16, "location_filters": 4, "location_kernel": 5,
                         "reduction_factor": 2},
        "postnet_conf": {"channels": 16},
    }  # fmt: skip
    audio = build_model(_args(tmp_path, lipsound2_conf))
    video = build_model(argparse.Namespace(frontend_config=None, model_conf=lipsound2_conf, normalize=None))
    assert audio.encoder.output_size == video.encoder.output_size == 24

    def side(model):
        return {k: v.shape for k, v in model.state_dict().items() if k.split(".")[0] in DECODER_SIDE}

    assert side(audio) == side(video) and len(side(video)) > 20
    assert not any(k.startswith("encoder.") for k in side(video))


def test_decoder_settings_that_differ_from_the_lipsound2_config_are_an_error(tmp_path):
    conf = {"decoder_conf": {"attention_lstm_units": 48}}
    with pytest.raises(ValueError, match="decoder_conf"):
        build_model(_args(tmp_path, conf, decoder_conf={"attention_lstm_units": 64}))
    with pytest.raises(ValueError, match="output_size"):
        build_model(_args(tmp_path, conf, encoder_conf={"output_size": 12, "bottleneck": 4}))


def test_free_running_reconstruction_has_the_inputs_lengths(tmp_path):
    args = _args(tmp_path, {"decoder_conf": {"reduction_factor": 2}})
    np.savez(
        tmp_path / "stats.npz", count=np.array(10), sum=np.full(80, -50.0), sum_square=np.full(80, 260.0)
    )
    args.normalize, args.normalize_conf = "global_mvn", {"stats_file": str(tmp_path / "stats.npz")}
    model = build_model(args).eval()
    feats, lengths = torch.randn(2, 30, 80) - 5, torch.tensor([30, 21])
    kept = feats.clone()
    out = model.generate(feats, lengths)
    model.reliance(feats, lengths)
    assert torch.equal(feats, kept)  # the caller's mel is not normalised in place
    assert out["mel_lengths"].tolist() == [30, 21] and out["mel"].shape == (2, 30, 80)
    assert out["attention_lengths"].tolist() == [12, 9]  # ceil(L / 2.5) memory frames

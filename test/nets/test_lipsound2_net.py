"""Shapes, masks, stop modes and paper sizes of the LipSound2 network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipsound2.nets.encoder import VisualEncoder
from lipsound2.nets.lipsound2 import LipSound2, masked_mse
from lipsound2.tasks.preprocess import FaceTrackPreprocessor
from lipsound2_testing.nets import TINY, batch


def test_paper_sizes_match_table_one():
    model = LipSound2()
    enc, dec = model.encoder, model.decoder
    assert enc.feature_size == 128 * 2 * 2  # 112 -> 55 -> 27 -> 13 -> 6 -> 4 -> 2
    assert enc.output_size == 256  # BiLSTM 128 per direction
    assert [b.conv.out_channels for b in enc.blocks] == [32, 64, 128]
    assert [b.conv.kernel_size for b in enc.blocks] == [(5, 3, 3)] * 3
    assert [b.conv.stride for b in enc.blocks] == [(1, 2, 2), (1, 2, 2), (1, 1, 1)]
    assert [layer.out_features for layer in dec.prenet.layers] == [512, 256]
    assert dec.att_recurrent.weight.shape == (4 * 1024, 256 + 1024)
    assert dec.dec_lstm.weight.shape == (4 * 1024, 1024 + 256 + 1024)
    assert dec.attention.location_conv.weight.shape == (32, 2, 31)
    assert dec.projection.out_features == 80
    convs = [m for m in model.postnet.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [512, 512, 512, 512, 80]
    assert sum(p.numel() for p in model.parameters()) == 22_023_408


def test_encoder_keeps_frame_rate():
    enc = VisualEncoder(channels=(4, 8, 8), lstm_units=8).eval()
    out = enc(torch.zeros(2, 7, 112, 112, 1), torch.tensor([7, 5]))
    assert out.shape == (2, 7, 16)
    assert torch.all(out[1, 5:] == 0)


def test_padding_does_not_change_outputs():
    torch.manual_seed(0)
    model = LipSound2(stop_mode="known_length", **TINY).eval()
    video, vl, feats, fl = batch([9, 6], [22, 15])
    both = model.generate(video, vl)
    alone = model.generate(video[1:, :6], vl[1:])
    assert both["mel_lengths"].tolist() == [22, 15]
    torch.testing.assert_close(both["mel"][1, :15], alone["mel"][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(both["attention"][1, :15, :6], alone["attention"][0], atol=1e-5, rtol=1e-4)
    assert torch.all(both["mel"][1, 15:] == 0)


def test_loss_ignores_padding():
    torch.manual_seed(0)
    model = LipSound2(**TINY).eval()
    video, vl, feats, fl = batch([8, 5], [20, 12])
    loss1, stats, weight = model(video, vl, feats, fl)
    feats[1, 12:] = 100.0
    loss2, _, _ = model(video, vl, feats, fl)
    assert torch.isclose(loss1, loss2) and int(weight) == 2
    assert torch.isclose(loss1, stats["dec_loss"] + stats["post_loss"])
    # 1-dim on the loss's device: what ESPnet's distributed averaging and DataParallel gather
    assert all(t.shape == (1,) and t.device == loss1.device for t in [loss1, weight, *stats.values()])
    mask = torch.tensor([[True, True, False]])
    assert masked_mse(torch.zeros(1, 3, 2), torch.tensor([[[1.0, 1], [1, 1], [9, 9]]]), mask) == 1.0


def test_visual_period_frame_is_appended():
    model = LipSound2(**TINY)
    frames, lengths = model._frames(torch.zeros(2, 4, 112, 112), torch.tensor([4, 2]))
    assert lengths.tolist() == [5, 3] and frames.shape[1] == 5
    assert torch.all(frames[0, 4] == 1.0) and torch.all(frames[1, 2] == 1.0)  # 255 scaled to 1
    assert torch.all(frames[1, 3:] == -1.0)  # padding stays black and is masked in the encoder
    model = LipSound2(stop_mode="known_length", **TINY)
    frames, lengths = model._frames(torch.zeros(1, 4, 112, 112), torch.tensor([4]))
    assert lengths.tolist() == [4] and frames.shape[1] == 4


def test_stop_modes_and_step_cap():
    torch.manual_seed(0)
    video, vl, _, _ = batch([10, 4], [25, 10])
    known = LipSound2(stop_mode="known_length", **TINY).eval().generate(video, vl)
    assert known["mel_lengths"].tolist() == [25, 10]  # 2.5 mel frames per video frame
    period = LipSound2(**TINY).eval().generate(video, vl, max_decode_steps=7)
    assert period["mel_lengths"].max() <= 7 and period["mel"].shape[1] <= 7
    with pytest.raises(ValueError, match="visual period"):
        LipSound2(stop_mode="known_length", **TINY).generate(video, vl, stop_mode="visual_period")


def test_scheduled_sampling_schedule():
    model = LipSound2(ss_max_prob=0.4, ss_start_step=10, ss_end_step=30, **TINY)
    probs = []
    for step in (0, 10, 20, 30, 100):
        model.num_updates.fill_(step)
        probs.append(model.sampling_prob())
    assert probs == pytest.approx([0.0, 0.0, 0.2, 0.4, 0.4])
    model.train()
    video, vl, feats, fl = batch([5, 4], [12, 10])
    loss, stats, _ = model(video, vl, feats, fl)  # the sampled path runs; a forward pass is no update
    assert float(stats["ss_prob"]) == pytest.approx(0.4) and int(model.num_updates) == 100
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    model.count_updates(optimizer)
    loss.backward()
    optimizer.step()
    assert int(model.num_updates) == 101


def test_preprocessor_casts_flips_and_blanks():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (3, 112, 112), dtype=np.uint8)
    out = FaceTrackPreprocessor(train=False)("u", {"video": gray})["video"]
    assert out.dtype == np.float32 and out.shape == (3, 112, 112, 1)
    np.testing.assert_array_equal(out[..., 0], gray)
    flipped = FaceTrackPreprocessor(train=True, hflip_prob=1.0)("u", {"video": gray})["video"]
    np.testing.assert_array_equal(flipped[..., 0], gray[:, :, ::-1])
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    assert FaceTrackPreprocessor(train=False, channels=1)("u", {"video": rgb})["video"].shape == (
        3,
        112,
        112,
        1,
    )
    assert FaceTrackPreprocessor(train=False, channels=3)("u", {"video": gray})["video"].shape == (
        3,
        112,
        112,
        3,
    )
    blank = FaceTrackPreprocessor(train=True, blank_video=True, blank_value=128)("u", {"video": gray})[
        "video"
    ]
    assert blank.shape == (3, 112, 112, 1) and np.all(blank == 128)
    with pytest.raises(ValueError, match="utterance bad"):
        FaceTrackPreprocessor(train=False)("bad", {"video": np.zeros((3, 4), np.uint8)})


def test_reduction_factor_emits_several_frames_per_step():
    torch.manual_seed(0)
    conf = {**TINY, "decoder_conf": {**TINY["decoder_conf"], "reduction_factor": 3}}
    model = LipSound2(stop_mode="known_length", guided_attention_weight=1.0, **conf)
    video, vl, feats, fl = batch([9, 6], [22, 15])
    loss, stats, _ = model(video, vl, feats, fl)
    loss.backward()  # the teacher-forced path: 8 steps for 22 frames
    model.eval()
    both = model.generate(video, vl)
    alone = model.generate(video[1:, :6], vl[1:])
    assert both["mel_lengths"].tolist() == [22, 15] and both["mel"].shape[1] == 22
    assert both["attention"].shape[1] == 8 and both["attention_steps"].tolist() == [8, 5]
    torch.testing.assert_close(both["mel"][1, :15], alone["mel"][0], atol=1e-5, rtol=1e-4)
    assert torch.all(both["mel"][1, 15:] == 0)
    # teacher forcing with scheduled sampling feeds back the last frame of each step too
    model.train()
    model.ss_max_prob, model.ss_end_step = 1.0, 1
    loss, _, _ = model(video, vl, feats, fl)
    assert torch.isfinite(loss)


def test_encoder_mel_readout_spans_video_frames():
    model = LipSound2(stop_mode="known_length", encoder_mel_weight=1.0, **TINY)
    with torch.no_grad():
        model.encoder_mel.weight.zero_()
        model.encoder_mel.weight[:, 0] = 1.0
        model.encoder_mel.bias.zero_()
    memory = torch.arange(6.0).view(1, 6, 1).repeat(2, 1, model.encoder.output_size)
    vl = torch.tensor([6, 4])
    t = torch.arange(16.0)
    feats = torch.stack([torch.floor(t / 2.5), torch.clamp(torch.floor(t / 2.5), max=3)])
    feats = feats.unsqueeze(2).repeat(1, 1, 80)
    mask = torch.tensor([[True] * 15 + [False], [True] * 10 + [False] * 6])
    feats[~mask] = 100.0  # padding must not count
    assert float(model._encoder_mel_loss(memory, vl, feats, mask).detach()) == 0.0
    feats[1, 9] = 5.0  # mel frame 9 belongs to video frame 3
    assert float(model._encoder_mel_loss(memory, vl, feats, mask).detach()) > 0.0


def test_normalized_model_fits_normalized_targets_and_returns_log_mel(tmp_path):
    from espnet2.layers.global_mvn import GlobalMVN

    from lipsound2.bin.feats_stats import feats_stats
    from lipsound2.fileio.ark import ArkWriter

    rng = np.random.default_rng(0)
    mels = {f"u{i}": (rng.normal(size=(10 + i, 80)) * 2 - 6).astype(np.float32) for i in range(3)}
    with ArkWriter(tmp_path / "feats.ark", tmp_path / "feats.scp") as writer:
        for key, mel in mels.items():
            writer[key] = mel
    stats = feats_stats(tmp_path / "feats.scp")
    frames = np.concatenate(list(mels.values()))
    assert int(stats["count"]) == len(frames)
    np.testing.assert_allclose(stats["sum"] / stats["count"], frames.mean(0), rtol=1e-5)
    np.savez(tmp_path / "stats.npz", **stats)

    torch.manual_seed(0)
    normalized = LipSound2(
        stop_mode="known_length", normalize=GlobalMVN(str(tmp_path / "stats.npz")), **TINY
    ).eval()
    plain = LipSound2(stop_mode="known_length", **TINY).eval()
    plain.load_state_dict(normalized.state_dict(), strict=False)
    video, vl, feats, fl = batch([6, 4], [15, 10])
    mean = torch.from_numpy(frames.mean(0))
    std = torch.from_numpy(frames.std(0))
    # the loss is taken on normalised targets...
    loss, _, _ = normalized(video, vl, feats.clone(), fl)
    target = (feats - mean) / std * (torch.arange(15)[None, :, None] < fl[:, None, None])
    expected, _, _ = plain(video, vl, target, fl)
    torch.testing.assert_close(loss, expected, atol=1e-4, rtol=1e-4)
    # ...and generated frames come back on the log-mel scale
    out, ref = normalized.generate(video, vl), plain.generate(video, vl)
    torch.testing.assert_close(out["mel"][1, :10], ref["mel"][1, :10] * std + mean, atol=1e-4, rtol=1e-4)
    assert torch.all(out["mel"][1, 10:] == 0)


def test_training_step_under_autocast_matches_fp32():
    """Mixed precision (the trainer's --use_amp): CPU bfloat16 autocast stands in for CUDA fp16 here;
    the deferred weight gradients must come back in fp32 and close to the fp32 step's."""
    torch.manual_seed(0)
    conf = {**TINY, "decoder_conf": {**TINY["decoder_conf"], "reduction_factor": 2}}
    model = LipSound2(stop_mode="known_length", guided_attention_weight=1.0, encoder_mel_weight=1.0, **conf)
    video, vl, feats, fl = batch([6, 4], [15, 10])
    grads = []
    for amp in (False, True):
        model.zero_grad()
        torch.manual_seed(1)  # the same dropout masks in both passes
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss, _, _ = model(video, vl, feats, fl)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    fp32, amp = grads
    assert fp32.keys() == amp.keys()
    for name in ("decoder.dec_lstm.weight", "decoder.att_recurrent.weight", "encoder.blocks.0.conv.weight"):
        assert amp[name].dtype == torch.float32
        cosine = torch.nn.functional.cosine_similarity(fp32[name].flatten(), amp[name].flatten(), dim=0)
        assert cosine > 0.95, (name, float(cosine))

"""The speech-unit head of LipSound2: its loss, its absence at weight 0, and its decoded units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.unit_head import unit_loss
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, make_utterance_with_units

K = 4


def _batch(n: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    utts = [make_utterance_with_units(rng, frames) for frames in (8, 6, 7, 5)[:n]]
    vlen = torch.tensor([len(v) for v, _, _ in utts])
    mlen = torch.tensor([len(m) for _, m, _ in utts])
    video = torch.zeros(n, int(vlen.max()), 112, 112)
    feats = torch.zeros(n, int(mlen.max()), 80)
    units = torch.zeros(n, int(mlen.max()), dtype=torch.long)
    for i, (v, m, u) in enumerate(utts):
        video[i, : len(v)] = torch.from_numpy(v.astype(np.float32))
        feats[i, : len(m)] = torch.from_numpy(m)
        units[i, : len(u)] = torch.from_numpy(u.astype(np.int64))
    return {"video": video, "video_lengths": vlen, "feats": feats, "feats_lengths": mlen,
            "units": units, "units_lengths": mlen.clone()}  # fmt: skip


def _model(seed: int = 0, **conf) -> LipSound2:
    torch.manual_seed(seed)
    return LipSound2(**{**TINY_MODEL_CONF, **conf})


def test_weight_zero_is_the_model_without_units():
    batch = _batch()
    plain, with_units = _model(), _model(unit_weight=0.5, num_units=K)
    assert not any("unit" in name for name in plain.state_dict())
    # the head is built last, so every other parameter starts the same
    with_units.load_state_dict(plain.state_dict(), strict=False)
    plain.eval(), with_units.eval()
    torch.manual_seed(1)
    loss0, stats0, _ = plain(**batch)  # units in the batch are ignored
    torch.manual_seed(1)
    loss1, stats1, _ = with_units(**batch)
    assert "unit_loss" not in stats0 and "unit_acc" not in stats0
    assert float(stats1["unit_loss"]) > 0 and 0 <= float(stats1["unit_acc"]) <= 1
    assert torch.equal(stats0["dec_loss"], stats1["dec_loss"])
    torch.testing.assert_close(loss1, loss0 + 0.5 * stats1["unit_loss"], rtol=0, atol=1e-6)


def test_loss_is_label_smoothed_cross_entropy_on_valid_frames_only():
    logits = torch.randn(2, 5, K)
    units = torch.randint(0, K, (2, 5))
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    loss, acc = unit_loss(logits, units, mask, 0.1)
    changed = logits.clone()
    changed[1, 2:] = 100.0  # padding: no effect
    assert torch.equal(unit_loss(changed, units, mask, 0.1)[0], loss)
    flat = torch.cat([logits[0], logits[1, :2]]), torch.cat([units[0], units[1, :2]])
    expected = torch.nn.functional.cross_entropy(*flat, label_smoothing=0.1)
    torch.testing.assert_close(loss, expected)
    assert float(acc) == pytest.approx(float((flat[0].argmax(1) == flat[1]).float().mean()))


@pytest.mark.parametrize("side", ["decoder", "encoder"])
def test_unit_loss_falls_when_overfitting_one_batch(side):
    batch = _batch(2)
    model = _model(unit_weight=1.0, num_units=K, unit_head_side=side)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(80):
        loss, stats, _ = model(**batch)
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append((float(stats["unit_loss"]), float(stats["unit_acc"])))
    first, last = history[0], history[-1]
    assert last[0] < 0.7 * first[0], history
    assert last[1] > 0.6 > first[1], history


def test_mismatched_units_are_refused():
    batch = _batch()
    model = _model(unit_weight=1.0, num_units=K)
    with pytest.raises(ValueError, match="one per mel frame"):
        model(**{**batch, "units_lengths": batch["units_lengths"] - 1})
    with pytest.raises(ValueError, match="no units"):
        model(**{k: v for k, v in batch.items() if not k.startswith("units")})


@pytest.mark.parametrize(("side", "stop_mode"), [("decoder", "known_length"), ("decoder", "visual_period"),
                                                 ("encoder", "known_length")])  # fmt: skip
def test_generate_gives_one_unit_per_mel_frame(side, stop_mode):
    batch = _batch(3)
    model = _model(unit_weight=1.0, num_units=K, unit_head_side=side, max_decode_steps=30).eval()
    out = model.generate(batch["video"], batch["video_lengths"], stop_mode)
    assert out["units"].shape == out["mel"].shape[:2]
    assert out["units"].dtype == torch.long
    assert int(out["units"].min()) >= 0 and int(out["units"].max()) < K
    assert "units" not in _model().eval().generate(batch["video"], batch["video_lengths"], stop_mode)


def test_a_head_needs_a_unit_count():
    with pytest.raises(ValueError, match="num_units"):
        _model(unit_weight=1.0)
    with pytest.raises(ValueError, match="unit_head_side"):
        _model(unit_weight=1.0, num_units=K, unit_head_side="middle")

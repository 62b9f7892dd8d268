"""Overfitting one small batch: the loss falls below a fixed bound and the attention aligns."""

from __future__ import annotations

import numpy as np
import torch

from lipsound2.nets.alignment import diagonal_share
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, make_utterance


def test_overfit_one_batch_aligns_attention():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    utts = [make_utterance(rng, n) for n in (10, 9, 8, 8)]
    vl = torch.tensor([len(v) for v, _ in utts])
    fl = torch.tensor([len(m) for _, m in utts])
    video = torch.zeros(4, int(vl.max()), 112, 112)
    feats = torch.zeros(4, int(fl.max()), 80)
    for i, (v, m) in enumerate(utts):
        video[i, : len(v)] = torch.from_numpy(v).float()
        feats[i, : len(m)] = torch.from_numpy(m)
    model = LipSound2(
        stop_mode="known_length", guided_attention_weight=5.0, guided_attention_sigma=0.2, **TINY_MODEL_CONF
    )
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(100):
        loss, stats, _ = model(video, vl, feats, fl)
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        first = first if first is not None else float(stats["dec_loss"] + stats["post_loss"])
    final = float(stats["dec_loss"] + stats["post_loss"])
    assert first > 50.0 and final < 8.0  # mel MSE, started around 64
    out = model.eval().generate(video, vl)
    share = diagonal_share(out["attention"], vl, out["mel_lengths"])
    assert share.min() > 0.8, share  # free-running attention within +-2 frames of the diagonal
    assert out["mel_lengths"].tolist() == fl.tolist()

"""The ESPnet training engine on LipSound2 in this process: resume, --init_param, weights_only
files, scheduled sampling's update count (distributed training: test/utils/test_distributed_trainer.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lipsound2.bin import train
from lipsound2.tasks.checkpoint import load_checkpoint, load_model
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, train_args, train_config


def _train(corpus: Path, out: Path, config: Path, *extra: str) -> None:
    train.main(train_args(corpus, out, config) + list(extra))


def _losses(exp: Path) -> dict[int, float]:
    stats = load_checkpoint(exp / "checkpoint.pth")["reporter"]["stats"]
    return {epoch: (s["train"]["loss"], s["valid"]["loss"]) for epoch, s in stats.items()}


def test_resume_reproduces_uninterrupted_run(tiny_corpus: Path, tmp_path: Path):
    config = train_config(tmp_path)
    _train(tiny_corpus, tmp_path / "straight", config, "--max_epoch", "3")
    _train(tiny_corpus, tmp_path / "resumed", config, "--max_epoch", "1")
    _train(tiny_corpus, tmp_path / "resumed", config, "--max_epoch", "3", "--resume", "true")
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert sorted(straight) == sorted(resumed) == [1, 2, 3]
    for epoch in straight:
        assert straight[epoch] == pytest.approx(resumed[epoch], rel=1e-5), epoch
    assert straight[3][0] < straight[1][0]  # and it learns
    # every file the trainer wrote loads with weights_only=True
    for name in ("checkpoint.pth", "valid.loss.best.pth", "3epoch.pth"):
        assert load_checkpoint(tmp_path / "resumed" / name)
    model, _ = load_model(tmp_path / "resumed" / "config.yaml", tmp_path / "resumed" / "valid.loss.best.pth")
    assert int(model.num_updates) == 6  # 2 updates x 3 epochs, restored from the checkpoint


def test_init_param_loads_pretrained_model(tiny_corpus: Path, tmp_path: Path):
    _train(tiny_corpus, tmp_path / "pre", train_config(tmp_path), "--max_epoch", "1")
    pretrained = tmp_path / "pre" / "valid.loss.best.pth"
    frozen = train_config(tmp_path, optim="sgd", optim_conf={"lr": 0.0}, scheduler=None, seed=11)
    _train(tiny_corpus, tmp_path / "fine", frozen, "--max_epoch", "1", "--init_param", str(pretrained))
    _train(tiny_corpus, tmp_path / "scratch", frozen, "--max_epoch", "1")
    pre = load_checkpoint(pretrained)
    fine = load_checkpoint(tmp_path / "fine" / "1epoch.pth")
    scratch = load_checkpoint(tmp_path / "scratch" / "1epoch.pth")
    weights = [k for k, v in pre.items() if v.is_floating_point() and "running" not in k]
    assert all(torch.equal(pre[k], fine[k]) for k in weights)
    assert not all(torch.equal(pre[k], scratch[k]) for k in weights)


def test_scheduled_sampling_counts_optimizer_updates(tiny_corpus: Path, tmp_path: Path):
    """With accum_grad 2 the trainer steps once per 2 batches: 1 update per epoch here."""
    model_conf = {**TINY_MODEL_CONF, "ss_max_prob": 0.3, "ss_start_step": 0, "ss_end_step": 4}
    config = train_config(tmp_path, model_conf=model_conf, accum_grad=2)
    _train(tiny_corpus, tmp_path / "exp", config, "--max_epoch", "2")
    checkpoint = load_checkpoint(tmp_path / "exp" / "checkpoint.pth")
    steps = [int(s["step"]) for s in checkpoint["optimizers"][0]["state"].values()]
    assert set(steps) == {2} and int(checkpoint["model"]["num_updates"]) == 2
    # the probability each epoch trained with: 0 updates, then 1 update of the 4 to 0.3
    stats = checkpoint["reporter"]["stats"]
    assert [stats[epoch]["train"]["ss_prob"] for epoch in (1, 2)] == pytest.approx([0.0, 0.075])

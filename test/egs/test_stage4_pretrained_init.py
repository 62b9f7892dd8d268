"""Stage 4 of the stage script initialised from a pre-trained model: the scheduled-sampling
update count restarts at 0 unless ``--ss_restart false``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from lipsound2.bin import train
from lipsound2.tasks.checkpoint import load_checkpoint
from lipsound2_testing.tiny_lipsound2 import train_args, train_config, write_corpus


def _fine_tune_with_recipe(root: Path, corpus: Path, exp: Path, config: Path, pretrained: Path, restart: str):
    """Stage 4 of the stage script, initialised from ``pretrained``: its model and checkpoint."""
    opts = ["--stage", "4", "--stop_stage", "4", "--dumpdir", str(corpus), "--expdir", str(exp)]
    opts += ["--train_set", "train", "--valid_set", "valid", "--pretrain_model", str(pretrained)]
    opts += ["--train_config", str(config), "--train_tag", "fine", "--feats_normalize", "none"]
    opts += ["--ss_restart", restart]
    res = subprocess.run(
        ["./lipsound2.sh", *opts], cwd=root / "egs" / "mini_grid", capture_output=True, text=True, timeout=600
    )
    log = exp / "fine" / "train.log"
    assert res.returncode == 0, res.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    return load_checkpoint(exp / "fine" / "1epoch.pth"), load_checkpoint(exp / "fine" / "checkpoint.pth")


def test_fine_tuning_restarts_scheduled_sampling(root: Path, tmp_path: Path):
    """Stage 4 initialised from a pre-trained model starts the update count at 0, unless
    ``--ss_restart false``; the weights come from the pre-trained model either way."""
    tiny_corpus = tmp_path / "tiny corpus"  # what the task tests train on; the stage may write here
    write_corpus(tiny_corpus / "train", 8, seed=1)
    write_corpus(tiny_corpus / "valid", 4, seed=2)
    train.main(train_args(tiny_corpus, tmp_path / "pre", train_config(tmp_path)) + ["--max_epoch", "1"])
    pretrained = tmp_path / "pre" / "valid.loss.best.pth"
    pre = load_checkpoint(pretrained)
    assert int(pre["num_updates"]) == 2
    # lr 0: the weights stay the pre-trained ones, and each step still counts as an update
    frozen = train_config(tmp_path, optim="sgd", optim_conf={"lr": 0.0}, scheduler=None, max_epoch=1)
    weights = [k for k, v in pre.items() if v.is_floating_point() and "running" not in k]
    prob = {}
    for restart, updates in (("true", 2), ("false", 4)):
        exp = tmp_path / f"exp restart={restart}"
        model, checkpoint = _fine_tune_with_recipe(root, tiny_corpus, exp, frozen, pretrained, restart)
        assert int(model["num_updates"]) == updates, restart
        assert all(torch.equal(pre[k], model[k]) for k in weights), restart
        prob[restart] = checkpoint["reporter"]["stats"][1]["train"]["ss_prob"]
    # ss 0 -> 0.3 over updates 1-4: counts 0 and 1 give 0; the kept counts 2 and 3 give 0.1, 0.2
    assert prob == pytest.approx({"true": 0.0, "false": 0.15})

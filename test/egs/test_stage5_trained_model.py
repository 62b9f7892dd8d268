"""Stages 5 and 9 read the model of stage 4's training only as its finished result: a training
killed mid-way is refused by name (its best checkpoint so far would pass for the result), and
a model trained under other settings than the conf now gives is used with a warning that says
what changed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

from lipsound2_testing.recipe_dir import write_data_settings
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus
from lipsound2_testing.trainer import NO_PLOTS

OPTS = ["--train_set", "train", "--valid_set", "valid", "--test_sets", "valid", "--train_config",
        "conf/train.yaml", "--feats_normalize", "none", "--inference_config", "conf/inference.yaml",
        "--num_plots", "0", "--skip_pretrain", "true", "--infer_train", "false"]  # fmt: skip


def _stages(recipe: Path, first: int, last: int, *extra: str) -> subprocess.CompletedProcess:
    cmd = ["./lipsound2.sh", "--stage", str(first), "--stop_stage", str(last), *OPTS, *extra]
    return subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=600)


def test_stage5_refuses_a_stopped_training_and_warns_of_a_changed_one(recipe: Path):
    dump = recipe / "dump"
    write_corpus(dump / "train", 6, seed=1)
    write_corpus(dump / "valid", 3, seed=2)
    for dset in ("train", "valid"):
        write_data_settings(dump / dset)
    conf = {
        "model_conf": {**TINY_MODEL_CONF, "stop_mode": "known_length"}, "optim": "adam",
        "optim_conf": {"lr": 0.003}, "batch_type": "sorted", "batch_size": 3, "num_att_plot": 0,
        **NO_PLOTS, "num_workers": 0, "max_epoch": 200, "keep_nbest_models": 1,
        "best_model_criterion": [["valid", "loss", "min"]],
    }  # fmt: skip
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train.yaml").write_text(yaml.safe_dump(conf))
    (recipe / "conf" / "frontend.yaml").write_text("{}\n")
    (recipe / "conf" / "inference.yaml").write_text("precision: fp32\nbatch_size: 2\n")
    exp = recipe / "exp" / "lipsound2_train"

    # stage 4 killed once its first epoch is saved (as a time limit or Ctrl-C would stop it)
    cmd = ["./lipsound2.sh", "--stage", "4", "--stop_stage", "4", *OPTS]
    proc = subprocess.Popen(cmd, cwd=recipe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (exp / "valid.loss.best.pth").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (exp / "valid.loss.best.pth").exists() and not (exp / ".done.train").exists()

    for stage in (5, 9):
        res = _stages(recipe, stage, stage)
        assert res.returncode != 0
        assert "the training of exp/lipsound2_train (stage 4) stopped before it finished" in res.stderr
    assert not list(exp.glob("decode_*")) and not list(exp.glob("*.zip"))

    # trained to its end (a shorter training: its conf changed, so it starts again), stage 5 decodes it
    (recipe / "conf" / "train.yaml").write_text(yaml.safe_dump({**conf, "max_epoch": 1}))
    res = _stages(recipe, 4, 5)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "WARNING" not in res.stderr
    # the training conf edited afterwards: the model is used, with a warning naming the change
    (recipe / "conf" / "train.yaml").write_text(
        yaml.safe_dump({**conf, "max_epoch": 1, "optim_conf": {"lr": 0.002}})
    )
    res = _stages(recipe, 5, 5)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "WARNING: exp/lipsound2_train (stage 4's training) was made under other settings" in res.stderr
    assert "optim_conf.lr: 0.003 -> 0.002" in res.stderr
    # an option of stage 3 only (its audio model was never made): not a reason to refuse
    res = _stages(recipe, 5, 5, "--audio_pretrain", "true")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stage 5: WARNING" in res.stderr  # the training's key now names that model

"""Stages 4-5 with a unit head: the units reach the trainer, and inference writes and scores
the predicted units beside the mel, in a decode dir named by the inference config and model
file, which another inference setting decodes again."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import torch
import yaml

from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table, write_table
from lipsound2_testing.recipe_dir import INFERENCE_TAG, write_data_settings
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus
from lipsound2_testing.trainer import NO_PLOTS


def test_a_unit_head_trains_on_units_and_decodes_them(recipe: Path):
    dump = recipe / "dump"
    write_corpus(dump / "train", 6, seed=1, units=True)
    write_corpus(dump / "valid", 3, seed=2, units=True)
    for dset in ("train", "valid"):  # the settings stage 2 made the mel with
        write_data_settings(dump / dset)
    # one training utterance without units (stage 2 rejected it): left out of training
    units = read_table(dump / "train" / "units.scp")
    write_table(dump / "train" / "units.scp", {k: v for k, v in units.items() if k != "utt000"})
    conf = {
        "model_conf": {**TINY_MODEL_CONF, "stop_mode": "known_length", "unit_weight": 1.0, "num_units": 4},
        "optim": "adam", "optim_conf": {"lr": 0.003}, "batch_type": "sorted", "batch_size": 3,
        "num_att_plot": 0, **NO_PLOTS, "num_workers": 0, "max_epoch": 1, "keep_nbest_models": 1,
        "best_model_criterion": [["valid", "loss", "min"]],
    }  # fmt: skip
    (recipe / "conf").mkdir()
    (recipe / "conf" / "train units.yaml").write_text(yaml.safe_dump(conf))
    (recipe / "conf" / "frontend.yaml").write_text("{}\n")
    (recipe / "conf" / "inference.yaml").write_text("precision: fp32\nbatch_size: 2\n")
    cmd = ["./lipsound2.sh", "--stage", "4", "--stop_stage", "5", "--train_set", "train",
           "--valid_set", "valid", "--test_sets", "valid", "--train_config", "conf/train units.yaml",
           "--train_tag", "u",
           "--feats_normalize", "none", "--inference_config", "conf/inference.yaml", "--inference_nj", "2",
           "--num_plots", "0", "--skip_pretrain", "true"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exp = recipe / "exp" / "u"
    assert "utt000" not in read_table(exp / "shapes" / "train" / "video_shape")
    assert "unit_acc" in (exp / "train.log").read_text()
    # the experiment keeps the settings of its training data, and each decode dir those of its mel
    decode = exp / f"decode_valid_{INFERENCE_TAG}"
    settings = (dump / "train" / "frontend.yaml").read_text()
    assert (exp / "frontend.yaml").read_text() == (decode / "frontend.yaml").read_text() == settings
    decoded, mels = read_scp(decode / "units.scp"), read_scp(decode / "feats.scp")
    assert sorted(decoded) == sorted(mels) == ["utt000", "utt001", "utt002"]
    assert all(decoded[k].shape == (len(mels[k]),) for k in mels)
    result = json.loads((decode / "unit_accuracy.json").read_text())
    assert 0 <= result["accuracy"] <= 1 and result["frames"] == sum(len(m) for m in mels.values())
    decode_dirs = sorted(p.name for p in exp.glob("decode_*"))  # infer_train: the train set too
    assert decode_dirs == [f"decode_{dset}_{INFERENCE_TAG}" for dset in ("train", "valid")]

    # the same stages again with another inference config and --gpu_inference: the model is
    # trained, and the decode dir is made again on a GPU (with the config's int8 as fp32); on a
    # machine without one, every job fails with a message that says so and nothing is marked done
    (recipe / "conf" / "inference.yaml").write_text("precision: int8\nbatch_size: 2\n")
    cmd = [*cmd, "--gpu_inference", "true"]
    proc = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True)
    assert "Stage 4: exp/u (training): done" in proc.stderr
    assert f"Stage 5: exp/u/{decode.name}: redo, since" in proc.stderr
    assert "option gpu_inference: false -> true" in proc.stderr
    assert 'inference: precision: "fp32" -> "int8"' in proc.stderr
    logs = "".join(p.read_text() for p in (decode / "log").glob("infer.*.log"))
    if torch.cuda.is_available():
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "decoding in fp32 on cuda" in logs
        assert sorted(read_scp(decode / "feats.scp")) == sorted(mels)
    else:
        assert proc.returncode != 0
        assert "one GPU each" in proc.stderr and "torch sees no CUDA GPU" in logs
        assert not (decode / ".done.infer").exists()

"""Training with speech units through ESPnet's trainer: the units input, the stats, the k check."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lipsound2.bin import train
from lipsound2.tasks.checkpoint import load_checkpoint, load_model
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus
from lipsound2_testing.trainer import NO_PLOTS


@pytest.fixture(scope="module")
def unit_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unit corpus")
    write_corpus(root / "train", 6, seed=1, units=True)
    write_corpus(root / "valid", 2, seed=2, units=True)
    return root


def _config(tmp: Path, **model_conf) -> Path:
    conf = {
        "model_conf": {**TINY_MODEL_CONF, **model_conf},
        "optim": "adam",
        "optim_conf": {"lr": 0.003},
        "batch_type": "sorted",
        "batch_size": 3,
        "num_att_plot": 0,
        **NO_PLOTS,
        "num_workers": 0,
        "best_model_criterion": [["valid", "loss", "min"]],
        "keep_nbest_models": 1,
        "max_epoch": 1,
        "seed": 3,
    }
    path = tmp / "conf.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def _train(corpus: Path, out: Path, config: Path, units: bool = True) -> None:
    args = ["--config", str(config), "--output_dir", str(out), "--ngpu", "0"]
    for split in ("train", "valid"):
        d = corpus / split
        args += [f"--{split}_data_path_and_name_and_type", f"{d / 'video.scp'},video,face_track"]
        args += [f"--{split}_data_path_and_name_and_type", f"{d / 'feats.scp'},feats,kaldi_ark"]
        if units:
            args += [f"--{split}_data_path_and_name_and_type", f"{d / 'units.scp'},units,kaldi_ark"]
        args += [f"--{split}_shape_file", str(d / "video_shape")]
    train.main(args)


def test_units_train_and_are_reported(unit_corpus: Path, tmp_path: Path):
    _train(unit_corpus, tmp_path / "exp", _config(tmp_path, unit_weight=1.0, num_units=4))
    stats = load_checkpoint(tmp_path / "exp" / "checkpoint.pth")["reporter"]["stats"][1]
    for split in ("train", "valid"):
        assert stats[split]["unit_loss"] > 0 and 0 <= stats[split]["unit_acc"] <= 1
    model, _ = load_model(tmp_path / "exp" / "config.yaml", tmp_path / "exp" / "valid.loss.best.pth")
    assert model.unit_head is not None and model.num_units == 4


def test_a_model_without_units_ignores_them(unit_corpus: Path, tmp_path: Path):
    _train(unit_corpus, tmp_path / "exp", _config(tmp_path))
    stats = load_checkpoint(tmp_path / "exp" / "checkpoint.pth")["reporter"]["stats"][1]
    assert "unit_loss" not in stats["train"]


def test_another_k_is_refused_naming_both(unit_corpus: Path, tmp_path: Path):
    with pytest.raises(ValueError, match=r"num_units is 200 but the units of .*units\.scp have k=4"):
        _train(unit_corpus, tmp_path / "exp", _config(tmp_path, unit_weight=1.0, num_units=200))


def test_a_unit_head_without_units_is_refused(unit_corpus: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="the train data has no units"):
        _train(unit_corpus, tmp_path / "exp", _config(tmp_path, unit_weight=1.0, num_units=4), units=False)

"""The list of settings in force that the paper did not use, against configs with known answers."""

from __future__ import annotations

import pytest
import yaml

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.report.paper import SettingsInForce, differences
from lipsound2.tasks.lipsound2 import LipSound2Task

UNAVOIDABLE = {"Scheduled sampling schedule", "Face detector", "Vocoder", "Lip-reading ASR", "n-gram LM text"}


@pytest.fixture(scope="module")
def conf(root):
    return root / "egs" / "TEMPLATE" / "conf"


def trainer_config(tmp_path, train_yaml, *args: str) -> tuple[dict, object]:
    """The config.yaml ESPnet's trainer writes for ``train_yaml`` and these options."""
    args_ns = LipSound2Task.get_parser().parse_args(["--config", str(train_yaml), *args])
    path = tmp_path / "exp" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(vars(args_ns)))
    return load_yaml(path), path


def test_cpu_demo_settings_list_every_known_deviation(conf, tmp_path):
    train, path = trainer_config(
        tmp_path, conf / "train_cpu.yaml", "--normalize", "global_mvn", "--normalize_conf", "stats_file=s.npz"
    )
    found = differences(
        SettingsInForce(
            train_config=train,
            train_config_path=path,
            inference_config=load_yaml(conf / "inference.yaml"),
            frontend=load_config(conf / "frontend.yaml"),
            vocoder_type="griffin_lim",
            asr_config=load_yaml(conf / "asr_cpu.yaml"),
            asr_pretrained_model="",
            ngram_order=3,
            asr_lr_factor=0.1,
        )
    )
    by_name = {d.setting: d for d in found}
    avoidable = {
        "Mel target normalisation",  # global_mvn
        "Pre-training",  # no --init_param
        "Model sizes (Table I)",
        "Mel frames per decoder step (reduction factor)",  # 4
        "Added loss: guided attention",  # weight 100
        "Added loss: encoder mel read-out",  # weight 1
        "Stop mode",  # known_length
        "Learning rate",  # 3e-3
        "Inference precision",  # int8
        "ASR initialisation",  # from scratch
        "n-gram LM order",  # 3
    }
    assert set(by_name) == avoidable | UNAVOIDABLE
    assert all(by_name[name].avoidable for name in avoidable)
    assert not any(by_name[name].avoidable for name in UNAVOIDABLE)
    sizes = by_name["Model sizes (Table I)"]
    assert (
        "encoder_conf.channels [8, 16, 16]" in sizes.here
        and "encoder_conf.channels [32, 64, 128]" in sizes.paper
    )
    assert "decoder_conf.decoder_lstm_units 128" in sizes.here
    assert "encoder_conf.kernel" not in sizes.here  # train_cpu.yaml keeps Table I's (the class default)
    assert by_name["Inference precision"].here.startswith("int8")
    assert by_name["Vocoder"].here.startswith("Griffin-Lim")
    assert by_name["Lip-reading ASR"].here.startswith("ESPnet transformer encoder")


def test_paper_settings_leave_only_the_unavoidable(conf, tmp_path):
    """What --paper_settings true selects: train_paper.yaml without normalisation, fine-tuned
    from a pre-trained model, inference_paper.yaml, HiFi-GAN, a pre-trained ASR, a 6-gram LM."""
    pre, _ = trainer_config(tmp_path / "pre", conf / "train_paper.yaml")
    model = tmp_path / "pre" / "exp" / "valid.loss.best.pth"
    train, path = trainer_config(tmp_path, conf / "train_paper.yaml", "--init_param", str(model))
    found = differences(
        SettingsInForce(
            train_config=train,
            train_config_path=path,
            inference_config=load_yaml(conf / "inference_paper.yaml"),
            frontend=load_config(conf / "frontend.yaml"),
            vocoder_type="hifigan",
            asr_config=load_yaml(conf / "asr_cpu.yaml"),
            asr_pretrained_model="exp/asr_librispeech/valid.acc.best.pth",
            ngram_order=6,
            asr_lr_factor=0.1,
        )
    )
    assert {d.setting for d in found} == UNAVOIDABLE
    assert not any(d.avoidable for d in found)
    assert pre["init_param"] == []  # the pre-training starts from random weights, as the paper's


def test_pre_training_differences_are_listed(conf, tmp_path):
    trainer_config(tmp_path / "pre", conf / "train_paper.yaml", "--model_conf", "guided_attention_weight=50")
    model = tmp_path / "pre" / "exp" / "valid.loss.best.pth"
    train, path = trainer_config(tmp_path, conf / "train_paper.yaml", "--init_param", f"{model}:::")
    found = differences(SettingsInForce(train_config=train, train_config_path=path))
    names = [d.setting for d in found]
    assert "Added loss: guided attention (pre-training)" in names
    assert "Added loss: guided attention" not in names
    assert found[-1].setting == "Not compared" and "inference config" in found[-1].here


def test_the_units_vocoder_has_its_own_row_text(conf, tmp_path):
    train, path = trainer_config(tmp_path, conf / "train_paper.yaml")
    found = differences(
        SettingsInForce(train_config=train, train_config_path=path, vocoder_type="hifigan_units")
    )
    vocoder = next(d for d in found if d.setting == "Vocoder")
    assert vocoder.here.startswith("HiFi-GAN fed mel + predicted speech units")
    assert "--vocoder_type" not in vocoder.remedy  # already a trained neural vocoder

"""The model takes its n_mels and mel frames per video frame from the front-end config, and
refuses features or a front end that disagree, naming both values."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import yaml

from lipsound2.bin import train
from lipsound2.tasks.checkpoint import load_model
from lipsound2.tasks.lipsound2 import LipSound2Task
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF


def _frontend(tmp_path: Path, name: str, **sections) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sections))
    return str(path)


def _build(frontend: str | None, **model_conf):
    args = argparse.Namespace(model_conf={**TINY_MODEL_CONF, **model_conf}, frontend_config=frontend)
    return LipSound2Task.build_model(args), args


def test_model_settings_come_from_the_frontend(tmp_path):
    frontend = _frontend(tmp_path, "hop128", mel={"hop_length": 128, "n_mels": 40})
    model, args = _build(frontend)
    assert (model.n_mels, model.mel_per_video_frame) == (40, 5.0)  # 16000 / 128 / 25
    assert model.postnet(torch.zeros(1, 3, 40), torch.ones(1, 3, dtype=torch.bool)).shape == (1, 3, 40)
    # recorded for config.yaml, so that the experiment states what it was built with
    assert (args.model_conf["n_mels"], args.model_conf["mel_per_video_frame"]) == (40, 5.0)
    model, _ = _build(None)
    assert (model.n_mels, model.mel_per_video_frame) == (80, 2.5)  # the front end's defaults


def test_a_model_conf_that_disagrees_is_refused(tmp_path):
    frontend = _frontend(tmp_path, "bands40", mel={"n_mels": 40})
    with pytest.raises(ValueError, match=r"n_mels 80 in the model, 40 in .*bands40\.yaml"):
        _build(frontend, n_mels=80)
    frontend = _frontend(tmp_path, "fps50", video={"fps": 50})
    with pytest.raises(ValueError, match=r"mel_per_video_frame 2\.5 in the model, 1\.25 in .*fps50\.yaml"):
        _build(frontend, mel_per_video_frame=2.5)


def test_a_model_for_other_crops_than_the_tracks_is_refused(tmp_path):
    """crop.size 96 with the configs' image_size 112 failed deep in the encoder with a shape
    error; now the model build names both settings."""
    frontend = _frontend(tmp_path, "crop96", crop={"size": 96})
    with pytest.raises(
        ValueError, match=r"image_size is 112 but the face tracks are 96x96 crops .*crop96\.yaml"
    ):
        _build(frontend, image_size=112)
    assert _build(frontend, image_size=96)[0].image_size == 96


def test_features_of_other_bands_are_refused(tmp_path):
    model, _ = _build(_frontend(tmp_path, "bands40", mel={"n_mels": 40}))
    video = torch.zeros(2, 4, 112, 112)
    lengths = torch.tensor([4, 4])
    with pytest.raises(ValueError, match=r"n_mels 40 in the model, 80 in the training features"):
        model(video, lengths, torch.zeros(2, 10, 80), torch.tensor([10, 10]))


def test_training_on_other_features_stops_with_both_values(tiny_corpus, tmp_path):
    """The real trainer path: 80-band features, a front end of 40 bands."""
    conf = tmp_path / "train.yaml"
    settings = {"model_conf": TINY_MODEL_CONF, "batch_type": "sorted", "batch_size": 4, "num_workers": 0}
    conf.write_text(yaml.safe_dump(settings))
    args = ["--config", str(conf), "--output_dir", str(tmp_path / "exp"), "--ngpu", "0", "--max_epoch", "1"]
    args += ["--frontend_config", _frontend(tmp_path, "bands40", mel={"n_mels": 40})]
    for split in ("train", "valid"):
        data = tiny_corpus / split
        args += [f"--{split}_data_path_and_name_and_type", f"{data / 'video.scp'},video,face_track"]
        args += [f"--{split}_data_path_and_name_and_type", f"{data / 'feats.scp'},feats,kaldi_ark"]
        args += [f"--{split}_shape_file", str(data / "video_shape")]
    with pytest.raises(ValueError, match=r"n_mels 40 in the model, 80 in the training features"):
        train.main(args)


def test_inference_checks_the_model_against_its_frontend(tmp_path):
    frontend = _frontend(tmp_path, "hop128", mel={"hop_length": 128, "n_mels": 40})
    model, args = _build(frontend)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), exp / "model.pth")
    loaded, _ = load_model(exp / "config.yaml", exp / "model.pth", frontend)
    assert loaded.n_mels == 40
    with pytest.raises(ValueError, match=r"n_mels 40 in the model, 80 in the default front-end settings"):
        load_model(exp / "config.yaml", exp / "model.pth")

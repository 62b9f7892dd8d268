"""An experiment's ``frontend.yaml`` travels with its model: inference, ``Video2Speech`` and a
pack read it when no front end is given, and refuse a given one that differs in what the model
depends on (the mel, video.fps), naming both files and the keys."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from lipsound2.bin import pack
from lipsound2.frontend.config import SETTINGS_FILE, SettingsMismatchError, load_config, write_settings
from lipsound2.inference import Video2Speech
from lipsound2.tasks.checkpoint import load_model
from lipsound2_testing.tiny_lipsound2 import write_experiment

# the experiment's settings: 40 bands, hop 128 (5 mel frames per video frame), mouth crops
EXPERIMENT = {"mel": {"n_mels": 40, "hop_length": 128}, "crop": {"region": "mouth"}}


def _yaml(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("experiment frontend")
    exp = write_experiment(root / "exp dir", n_mels=40, mel_per_video_frame=5.0)
    write_settings(load_config(_yaml(root / "conf.yaml", EXPERIMENT)), exp / SETTINGS_FILE)
    return exp


def test_the_experiments_settings_are_the_default(exp):
    model, args = load_model(exp / "config.yaml", exp / "model.pth")
    assert (model.n_mels, model.mel_per_video_frame) == (40, 5.0)
    assert args.frontend_config == str(exp / SETTINGS_FILE)
    v2s = Video2Speech(exp / "config.yaml", exp / "model.pth", stop_mode="known_length", max_decode_steps=20)
    assert v2s.frontend == load_config(exp / SETTINGS_FILE)
    assert (v2s.frontend.crop.region, v2s.frontend.mel.n_mels, v2s.sample_rate) == ("mouth", 40, 16000)
    track = np.full((6, 112, 112), 100, np.uint8)
    speech = v2s(track)
    assert speech.mel.shape[1] == 40 and len(speech.wav) == (len(speech.mel) - 1) * 128


def test_a_front_end_that_disagrees_with_the_model_is_refused(exp, tmp_path):
    given = _yaml(tmp_path / "conf frontend.yaml", {"video": {"fps": 50}, "mel": {"n_mels": 40}})
    beside = exp / SETTINGS_FILE
    with pytest.raises(SettingsMismatchError) as caught:
        load_model(exp / "config.yaml", exp / "model.pth", given)
    message = str(caught.value)
    assert message.startswith(f"{given} disagrees with {beside}, the settings the model was trained with: ")
    assert f"video.fps: 50 ({given}) vs 25.0 ({beside})" in message
    assert f"mel.hop_length: 256 ({given}) vs 128 ({beside})" in message
    assert "crop.region" not in message  # the model does not depend on the crop
    with pytest.raises(SettingsMismatchError, match=r"mel\.n_mels: 80 \(.*\) vs 40"):
        Video2Speech(exp / "config.yaml", exp / "model.pth", _yaml(tmp_path / "default.yaml", {}))


def test_a_front_end_that_differs_elsewhere_is_taken(exp, tmp_path):
    """The given file is used: its crop (how a user's video is cut) is the caller's choice."""
    given = _yaml(tmp_path / "face.yaml", {"mel": {"n_mels": 40, "hop_length": 128}, "storage": {"crf": 20}})
    model, args = load_model(exp / "config.yaml", exp / "model.pth", given)
    assert model.n_mels == 40 and args.frontend_config == str(given)
    v2s = Video2Speech(exp / "config.yaml", exp / "model.pth", given, vocoder_type=None)
    assert v2s.frontend == load_config(given) and v2s.frontend.crop.region == "face"


def test_a_pack_holds_the_experiments_settings(exp, tmp_path):
    out = tmp_path / "model.zip"
    argv = ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth")]
    assert pack.main([*argv, "--vocoder_type", "griffin_lim", "--outpath", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert zf.read(SETTINGS_FILE) == (exp / SETTINGS_FILE).read_bytes()
    v2s = Video2Speech.from_pretrained(out, tmp_path / "cache")
    assert v2s.frontend == load_config(exp / SETTINGS_FILE)

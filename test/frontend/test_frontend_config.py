"""The front-end config states each feature setting once and refuses impossible ones."""

from __future__ import annotations

import pytest
import yaml

from lipsound2.frontend.config import load_config
from lipsound2.frontend.mel import MelConfig


def _load(tmp_path, values: dict):
    path = tmp_path / "frontend.yaml"
    path.write_text(yaml.safe_dump(values))
    return load_config(path)


def test_the_template_is_the_papers_setting(root):
    config = load_config(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml")
    assert config.mel == MelConfig()
    assert config.mel_per_video_frame == 2.5


def test_the_audio_rate_is_the_mel_rate(tmp_path):
    config = _load(tmp_path, {"audio": {"sample_rate": 22050}, "mel": {"hop_length": 441}})
    assert config.mel.sample_rate == 22050
    assert config.mel.frames_per_second == 50.0 and config.mel_per_video_frame == 2.0
    with pytest.raises(ValueError, match=r"mel\.sample_rate 8000 differs from audio\.sample_rate 16000"):
        _load(tmp_path, {"mel": {"sample_rate": 8000}})


def test_fps_changes_mel_per_video_frame(tmp_path):
    assert _load(tmp_path, {"video": {"fps": 30}}).mel_per_video_frame == pytest.approx(62.5 / 30)


@pytest.mark.parametrize(
    "mel, message",
    [
        ({"hop_length": 0}, "must be positive"),
        ({"win_length": 2048}, "win_length 2048 is longer than n_fft 1024"),
        ({"f_max": 11025.0}, r"0-11025 Hz must lie within 0-8000 Hz"),
    ],
)
def test_impossible_mel_settings_are_refused(tmp_path, mel, message):
    with pytest.raises(ValueError, match=message):
        _load(tmp_path, {"mel": mel})

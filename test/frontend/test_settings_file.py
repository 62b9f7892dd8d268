"""The front-end settings that travel with the data: written resolved, compared key by key, and a
disagreement named with both files, the key and both values (``lipsound2.bin.frontend_settings``
for the stage script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lipsound2.bin import frontend_settings
from lipsound2.frontend.config import (
    SETTINGS_FILE,
    STAGE1_SECTIONS,
    STAGE2_SECTIONS,
    SettingsMismatchError,
    check_agrees,
    config_to_dict,
    differences,
    load_config,
    settings_beside,
    write_settings,
)


def _yaml(path: Path, values: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values))
    return path


def test_written_settings_are_complete_and_read_back_the_same(tmp_path, root):
    given = _yaml(
        tmp_path / "conf" / "frontend.yaml", {"crop": {"region": "mouth"}, "audio": {"sample_rate": 22050}}
    )
    config = load_config(given)
    out = tmp_path / "dump dir" / "train" / SETTINGS_FILE
    write_settings(config, out)
    assert load_config(out) == config
    written = yaml.safe_load(out.read_text())
    assert written == config_to_dict(config)  # every key, defaults included
    assert written["mel"]["sample_rate"] == 22050 and written["detector"]["every"] == 5
    assert [p.name for p in out.parent.iterdir()] == [SETTINGS_FILE]  # no temporary left
    template = load_config(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml")
    write_settings(template, out)  # over an existing file
    assert load_config(out) == template


def test_differences_name_each_leaf_key_with_both_values(tmp_path):
    a = load_config(None)
    b = load_config(
        _yaml(
            tmp_path / "b.yaml",
            {"crop": {"region": "mouth", "gray": True}, "video": {"fps": 30}, "mel": {"n_mels": 40}},
        )
    )
    assert differences(a, a) == []
    assert differences(a, b) == [
        "video.fps: 25.0 -> 30",
        "crop.region: face -> mouth",
        "crop.gray: false -> true",
        "mel.n_mels: 80 -> 40",
    ]
    assert differences(a, b, ["crop"]) == ["crop.region: face -> mouth", "crop.gray: false -> true"]
    assert differences(a, b, ["video.fps", "mel"]) == ["video.fps: 25.0 -> 30", "mel.n_mels: 80 -> 40"]
    assert differences(a, b, STAGE2_SECTIONS) == ["video.fps: 25.0 -> 30", "mel.n_mels: 80 -> 40"]
    assert differences(a, b, ["storage", "mel_tolerance"]) == []
    with pytest.raises(ValueError, match=r"unknown front-end section\(s\) crops, video\.rate; known: "):
        differences(a, b, ["crops", "video.rate"])


def test_the_audio_rate_is_named_once_and_belongs_to_the_mel(tmp_path):
    """mel.sample_rate is always audio.sample_rate: a rate change is the key users set, and it
    matters to whatever depends on the mel."""
    a, b = load_config(None), load_config(_yaml(tmp_path / "b.yaml", {"audio": {"sample_rate": 22050}}))
    expected = ["audio.sample_rate: 16000 -> 22050"]
    assert differences(a, b) == differences(a, b, ["mel"]) == differences(a, b, STAGE2_SECTIONS) == expected
    assert differences(a, b, ["audio"]) == differences(a, b, ["mel.sample_rate"]) == expected
    assert differences(a, b, ["crop"]) == []


def test_each_stage_compares_what_it_reads(tmp_path):
    crop = load_config(_yaml(tmp_path / "crop.yaml", {"crop": {"size": 96}, "storage": {"format": "ark"}}))
    mel = load_config(_yaml(tmp_path / "mel.yaml", {"mel": {"f_max": 7600.0}, "mel_tolerance": 1.0}))
    default = load_config(None)
    assert differences(default, crop, STAGE1_SECTIONS) == [
        "crop.size: 112 -> 96",
        "storage.format: mp4 -> ark",
    ]
    assert differences(default, crop, STAGE2_SECTIONS) == []
    assert differences(default, mel, STAGE1_SECTIONS) == []
    assert differences(default, mel, STAGE2_SECTIONS) == [
        "mel.f_max: 8000.0 -> 7600.0",
        "mel_tolerance: 3.0 -> 1.0",
    ]


def test_check_agrees_names_both_files_the_keys_and_the_fix(tmp_path):
    conf = _yaml(tmp_path / "conf" / "frontend.yaml", {"crop": {"region": "mouth", "size": 88}})
    data = tmp_path / "dump" / "train" / SETTINGS_FILE
    write_settings(load_config(None), data)
    with pytest.raises(SettingsMismatchError) as caught:
        check_agrees(conf, data)
    assert str(caught.value) == (
        f"{conf} disagrees with {data}, the settings the data were made with: "
        f"crop.region: mouth ({conf}) vs face ({data}), crop.size: 88 ({conf}) vs 112 ({data}); "
        "run stages 1-2 again to remake the data, or use that file"
    )
    assert isinstance(caught.value, ValueError)
    # only the sections asked for count; the given settings come back
    assert check_agrees(conf, data, STAGE2_SECTIONS).crop.region == "mouth"
    with pytest.raises(SettingsMismatchError, match=r"the model's: crop\.size: 88 .* vs 112 .*; retrain$"):
        check_agrees(conf, data, ["crop.size"], what="the model's", fix="retrain")


def test_settings_beside_prefers_the_file_with_the_data(tmp_path):
    data_dir = tmp_path / "dump"
    conf = _yaml(tmp_path / "frontend.yaml", {"mel": {"n_mels": 40}})
    assert settings_beside(None, data_dir, ["mel"], "w", "f") is None  # no file: the defaults
    assert settings_beside(conf, data_dir, ["mel"], "w", "f") == conf
    write_settings(
        load_config(_yaml(tmp_path / "mouth.yaml", {"crop": {"region": "mouth"}})), data_dir / SETTINGS_FILE
    )
    assert settings_beside(None, data_dir, ["mel"], "w", "f") == str(data_dir / SETTINGS_FILE)
    assert settings_beside(tmp_path / "mouth.yaml", data_dir, None, "w", "f") == tmp_path / "mouth.yaml"
    with pytest.raises(SettingsMismatchError, match=r"mel\.n_mels: 40 \(.*frontend\.yaml\) vs 80 \(.*dump"):
        settings_beside(conf, data_dir, ["mel"], "w", "f")


def _cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "lipsound2.bin.frontend_settings", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_the_command_writes_and_compares(tmp_path):
    conf = _yaml(tmp_path / "conf dir" / "frontend.yaml", {"crop": {"region": "mouth"}})
    data = tmp_path / "dump dir" / "train" / SETTINGS_FILE
    done = _cli("write", "--frontend_config", str(conf), "--out", str(data))
    assert done.returncode == 0, done.stderr
    assert load_config(data) == load_config(conf)
    assert _cli("compare", "--frontend_config", str(conf), "--data_settings", str(data)).returncode == 0

    edited = _yaml(tmp_path / "edited.yaml", {"crop": {"region": "face"}, "mel": {"n_mels": 40}})
    done = _cli("compare", "--frontend_config", str(edited), "--data_settings", str(data))
    assert done.returncode == 1
    assert f"{edited} disagrees with {data}, the settings the data were made with" in done.stderr
    assert f"crop.region: face ({edited}) vs mouth ({data})" in done.stderr
    assert f"mel.n_mels: 40 ({edited}) vs 80 ({data})" in done.stderr
    # only the sections asked for, by name or by what a step reads
    args = ["compare", "--frontend_config", str(edited), "--data_settings", str(data), "--sections"]
    for sections in ("mel", "stage2", "vocoder"):
        done = _cli(*args, sections)
        assert done.returncode == 1 and "crop.region" not in done.stderr and "mel.n_mels" in done.stderr
    for sections in ("stage1", ",".join(STAGE1_SECTIONS)):
        done = _cli(*args, sections)
        assert done.returncode == 1 and "crop.region" in done.stderr and "mel.n_mels" not in done.stderr
    assert _cli(*args, "mel_tolerance,video.fps").returncode == 0


def test_the_command_tells_a_broken_call_from_a_disagreement(tmp_path, capsys):
    conf = _yaml(tmp_path / "frontend.yaml", {})
    missing = tmp_path / "dump" / SETTINGS_FILE
    args = ["compare", "--frontend_config", str(conf), "--data_settings"]
    assert frontend_settings.main([*args, str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    write_settings(load_config(conf), missing)
    assert frontend_settings.main([*args, str(missing), "--sections", "crop,lips"]) == 2
    assert "unknown front-end section(s) lips" in capsys.readouterr().err
    bad = _yaml(tmp_path / "bad.yaml", {"crop": {"regoin": "mouth"}})
    write = ["write", "--frontend_config", str(bad), "--out", str(tmp_path / "o.yaml")]
    assert frontend_settings.main(write) == 2
    assert "unknown key(s) regoin" in capsys.readouterr().err
    assert not (tmp_path / "o.yaml").exists()

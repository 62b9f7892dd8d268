"""The front-end config is the one source of the mel settings: editing it changes what mel
extraction, Griffin-Lim, HiFi-GAN training and HiFi-GAN vocoding use, all alike; the settings
written beside the features (``frontend.yaml``) are what vocoding and vocoder training use by
default, and a front end that disagrees with them is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from lipsound2.bin import extract_mel, train_vocoder, vocode
from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import write_wav
from lipsound2.frontend.config import SETTINGS_FILE, load_config, write_settings
from lipsound2.frontend.mel import log_mel

TINY_G = dict(
    channels=8, upsample_kernel_sizes=[16, 16, 4], resblock_kernel_sizes=[3], resblock_dilations=[[1]]
)
TINY_D = dict(
    scales=1,
    periods=[2],
    scale_discriminator_params=dict(channels=4, max_downsample_channels=16, max_groups=4),
    period_discriminator_params=dict(channels=4, max_downsample_channels=16),
)
TRAIN = dict(steps=2, batch_size=1, segment_frames=8, log_interval=1)


def _write_yaml(path: Path, values: dict) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture(scope="module")
def frontends(tmp_path_factory) -> dict[str, Path]:
    """The template's settings, and an edited copy: 8 kHz audio, hop 128, 40 bands."""
    conf = tmp_path_factory.mktemp("conf dir")
    edited = {
        "audio": {"sample_rate": 8000},
        "mel": {"n_fft": 512, "win_length": 512, "hop_length": 128, "n_mels": 40, "f_max": 4000.0},
    }
    return {
        "default": _write_yaml(conf / "default.yaml", {}),
        "edited": _write_yaml(conf / "edited.yaml", edited),
    }


def _extract(frontend: Path, wav_scp: Path, out: Path) -> dict[str, np.ndarray]:
    extract_mel.main(
        [
            "--frontend_config",
            str(frontend),
            "--wav_scp",
            str(wav_scp),
            "--ark",
            str(out / "feats.ark"),
            "--out_dir",
            str(out),
        ]
    )
    return read_scp(out / "feats.scp")


def _vocode(frontend: Path, feats: Path, out: Path, *extra: str) -> dict[str, str]:
    args = ["--feats_scp", str(feats), "--outdir", str(out), "--wav_scp", str(out / "wav.scp")]
    vocode.main(args + ["--frontend_config", str(frontend), *extra])
    assert (out / "wav.scp.failed").read_text() == ""
    return read_table(out / "wav.scp")


@pytest.mark.parametrize("name", ["default", "edited"])
def test_extraction_and_griffin_lim_follow_the_config(name, frontends, grid_wavs, tmp_path):
    config = load_config(frontends[name])
    wav_scp = tmp_path / "wav.scp"
    write_table(wav_scp, {p.stem: str(p) for p in grid_wavs[:2]})
    mels = _extract(frontends[name], wav_scp, tmp_path / "feats")
    written = _vocode(
        frontends[name], tmp_path / "feats" / "feats.scp", tmp_path / "gl", "--vocoder_type", "griffin_lim"
    )
    assert written.keys() == mels.keys()
    for key, mel in mels.items():
        seconds = sf.info(str(grid_wavs[0].parent / f"{key}.wav")).duration
        assert mel.shape[1] == config.mel.n_mels
        assert abs(len(mel) - seconds * config.mel.frames_per_second) <= 1.5
        info = sf.info(written[key])
        assert info.samplerate == config.audio.sample_rate
        assert info.frames == (len(mel) - 1) * config.mel.hop_length
        wav, _ = sf.read(written[key], dtype="float32")
        assert len(log_mel(wav, config.mel)) == len(mel)  # the output's mel has the input's frames


def test_hifigan_training_and_vocoding_follow_the_config(frontends, grid_wavs, tmp_path):
    edited = load_config(frontends["edited"])
    wav_scp = tmp_path / "wav.scp"
    write_table(wav_scp, {p.stem: str(p) for p in grid_wavs[:2]})
    mels = _extract(frontends["edited"], wav_scp, tmp_path / "feats")
    # 16 kHz wav files, trained and vocoded at the config's 8 kHz: the audio is resampled by stage 1
    # in a recipe; here the training reads the 16 kHz files, so it must refuse them by name
    vocoder_yaml = _write_yaml(
        tmp_path / "vocoder.yaml",
        {
            "generator_params": {**TINY_G, "upsample_scales": [8, 8, 2]},
            "discriminator_params": TINY_D,
            "train": TRAIN,
        },
    )
    train_args = [
        "--config",
        str(vocoder_yaml),
        "--wav_scp",
        str(wav_scp),
        "--outdir",
        str(tmp_path / "hifigan"),
    ]
    with pytest.raises(ValueError, match=r"sample rate 16000, expected 8000"):
        train_vocoder.main(train_args + ["--frontend_config", str(frontends["edited"])])
    # at 8 kHz, as stage 1 would have written them
    wavs8 = {}
    for path in grid_wavs[:2]:
        wav, rate = sf.read(path, dtype="float32")
        wavs8[path.stem] = str(tmp_path / f"{path.stem} 8k.wav")
        sf.write(wavs8[path.stem], wav[:: rate // 8000], 8000, subtype="PCM_16")
    write_table(wav_scp, wavs8)
    assert train_vocoder.main(train_args + ["--frontend_config", str(frontends["edited"])]) == 0
    written = _vocode(
        frontends["edited"],
        tmp_path / "feats" / "feats.scp",
        tmp_path / "hifi",
        "--vocoder_type",
        "hifigan",
        "--vocoder_file",
        str(tmp_path / "hifigan" / "vocoder.pth"),
    )
    for key, mel in mels.items():
        info = sf.info(written[key])
        assert (info.samplerate, info.frames) == (8000, (len(mel) - 1) * edited.mel.hop_length)
    # the same vocoder with the template's settings, and a generator whose upsampling is not the hop
    with pytest.raises(
        ValueError, match=r"trained on other mel settings: sample_rate 8000 \(front end: 16000\)"
    ):
        _vocode(
            frontends["default"],
            tmp_path / "feats" / "feats.scp",
            tmp_path / "wrong",
            "--vocoder_type",
            "hifigan",
            "--vocoder_file",
            str(tmp_path / "hifigan" / "vocoder.pth"),
        )
    _write_yaml(vocoder_yaml, {"generator_params": TINY_G, "discriminator_params": TINY_D, "train": TRAIN})
    with pytest.raises(ValueError, match=r"multiply to 256, but the front end's mel hop_length is 128"):
        train_vocoder.main(train_args + ["--frontend_config", str(frontends["edited"])])


def _made_with(frontend: Path, data: Path) -> Path:
    """A data dir as stages 1-2 leave it under ``frontend``: wav.scp (generated audio at its
    rate), feats.scp and the settings they were made with."""
    rate = load_config(frontend).audio.sample_rate
    t = np.arange(rate) / rate
    wavs = {}
    for i, pitch in enumerate((220.0, 330.0)):
        wavs[f"utt{i}"] = str(data / "wav" / f"utt{i}.wav")
        write_wav(wavs[f"utt{i}"], (0.4 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), rate)
    write_table(data / "wav.scp", wavs)
    _extract(frontend, data / "wav.scp", data)
    write_settings(load_config(frontend), data / SETTINGS_FILE)
    return data


def test_vocoding_takes_the_settings_beside_the_mel_and_refuses_others(frontends, tmp_path):
    data = _made_with(frontends["edited"], tmp_path / "dump dir")
    out = tmp_path / "gl"
    args = ["--feats_scp", str(data / "feats.scp"), "--vocoder_type", "griffin_lim"]
    assert vocode.main([*args, "--outdir", str(out), "--wav_scp", str(out / "wav.scp")]) == 0
    for key, mel in read_scp(data / "feats.scp").items():
        info = sf.info(read_table(out / "wav.scp")[key])
        assert (info.samplerate, info.frames) == (8000, (len(mel) - 1) * 128)
    # the template's settings: refused by name before anything is vocoded
    refused = tmp_path / "refused"
    argv = [*args, "--outdir", str(refused), "--wav_scp", str(refused / "wav.scp")]
    with pytest.raises(SystemExit) as caught:
        vocode.main([*argv, "--frontend_config", str(frontends["default"])])
    given, beside = frontends["default"], data / SETTINGS_FILE
    message = str(caught.value.code)
    assert message.startswith(
        f"{given} disagrees with {beside}, the settings the mel features were made with: "
    )
    assert f"audio.sample_rate: 16000 ({given}) vs 8000 ({beside})" in message
    assert f"mel.n_mels: 80 ({given}) vs 40 ({beside})" in message
    assert not refused.exists()
    # a front end that differs elsewhere is taken
    crop = tmp_path / "mouth.yaml"
    _write_yaml(crop, {**yaml.safe_load(frontends["edited"].read_text()), "crop": {"region": "mouth"}})
    assert vocode.main([*argv, "--frontend_config", str(crop)]) == 0


def test_vocoder_training_refuses_audio_of_other_settings(frontends, tmp_path):
    edited = _made_with(frontends["edited"], tmp_path / "edited set")
    default = _made_with(frontends["default"], tmp_path / "default set")
    vocoder_yaml = _write_yaml(
        tmp_path / "vocoder.yaml",
        {"generator_params": TINY_G, "discriminator_params": TINY_D, "train": TRAIN},
    )
    args = ["--config", str(vocoder_yaml), "--outdir", str(tmp_path / "hifigan")]
    with pytest.raises(SystemExit, match=r"mel\.n_mels: 80 \(.*default\.yaml\) vs 40 \(.*edited set"):
        train_vocoder.main(
            [*args, "--wav_scp", str(edited / "wav.scp"), "--frontend_config", str(frontends["default"])]
        )
    two_sets = ["--wav_scp", str(default / "wav.scp"), "--wav_scp", str(edited / "wav.scp")]
    with pytest.raises(SystemExit) as caught:
        train_vocoder.main([*args, *two_sets])
    message = str(caught.value.code)
    assert f"{default / SETTINGS_FILE} disagrees with {edited / SETTINGS_FILE}" in message
    assert "the settings the training audio was made with: audio.sample_rate: 16000" in message
    assert not (tmp_path / "hifigan").exists()

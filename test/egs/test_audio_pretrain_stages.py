"""The decoder's audio pre-training through the stage script: a LibriSpeech-layout corpus
prepared by the librispeech recipe's data script (stages 0-2, audio only), the audio model
(stage 3), and stage 4 taking its decoder side, with the encoder from an audio-visual model."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

from lipsound2.fileio.table import read_table
from lipsound2.nets.lipsound2 import DECODER_SIDE
from lipsound2.tasks.checkpoint import load_checkpoint
from lipsound2_testing.recipe_dir import write_data_settings
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus, write_experiment
from lipsound2_testing.trainer import NO_PLOTS

TRAINING = {"batch_type": "sorted", "batch_size": 2, "num_att_plot": 0, "num_workers": 0, "max_epoch": 1,
            "keep_nbest_models": 1, "best_model_criterion": [["valid", "loss", "min"]],
            **NO_PLOTS}  # fmt: skip


def _fake_librispeech(root: Path) -> Path:
    """``<subset>/<spk>/<chapter>/<spk>-<chapter>-<n>.flac`` + ``.trans.txt``: 4 + 2 utterances
    of noise bursts, one transcript line without its file."""
    rng = np.random.default_rng(0)
    for subset, speakers in (("train-clean-100", ("19", "103")), ("dev-clean", ("84",))):
        for spk in speakers:
            chapter = root / subset / spk / "1240"
            chapter.mkdir(parents=True)
            lines = []
            for n in range(2):
                name = f"{spk}-1240-{n:04d}"
                t = np.arange(int(16000 * (0.8 + 0.2 * n))) / 16000
                wav = 0.3 * np.sin(2 * np.pi * (150 + 50 * n) * t) * (rng.random(len(t)) > 0.3)
                sf.write(chapter / f"{name}.flac", wav.astype(np.float32), 16000)
                lines.append(f"{name} WORDS OF {name}")
            lines.append(f"{spk}-1240-0009 NO FILE")
            (chapter / f"{spk}-1240.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def _run(recipe: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        ["./lipsound2.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=900, env=env
    )
    logs = "".join(p.read_text()[-2000:] for p in (recipe / "exp").glob("*/train.log"))
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    return proc


def test_stage4_takes_the_audio_models_decoder_and_the_av_models_encoder(
    recipe: Path, root: Path, tmp_path: Path
):
    (recipe / "local").mkdir()
    (recipe / "local" / "data.sh").symlink_to(root / "egs" / "librispeech" / "local" / "data.sh")
    corpus = _fake_librispeech(tmp_path / "Libri Speech")
    conf = recipe / "conf"
    conf.mkdir()
    (conf / "frontend.yaml").write_text("{}\n")
    lipsound2_model = {**TINY_MODEL_CONF, "stop_mode": "known_length"}
    # lr 0: stage 4 leaves every weight as initialised
    (conf / "train.yaml").write_text(
        yaml.safe_dump({"model_conf": lipsound2_model, "optim": "sgd", "optim_conf": {"lr": 0.0}, **TRAINING})
    )
    audio_encoder = {"conv_channels": 8, "lstm_units": 8, "bottleneck": 4, "noise_std": 0.3}
    (conf / "train_audio.yaml").write_text(
        yaml.safe_dump({"model_conf": {"encoder_conf": audio_encoder}, "optim": "adam", **TRAINING})
    )
    audio_sets = ["--audio_pretrain_train_set", "librispeech_train_clean_100",
                  "--audio_pretrain_valid_set", "librispeech_dev_clean"]  # fmt: skip
    _run(recipe, "--stage", "0", "--stop_stage", "3", "--skip_pretrain", "true", "--audio_pretrain", "true",
         *audio_sets, "--nj", "2", env={"LIBRISPEECH": str(corpus)})  # fmt: skip
    assert (recipe / "data" / ".done.data_prep").is_file()
    dump = recipe / "dump" / "librispeech_train_clean_100"
    assert sorted(read_table(dump / "feats.scp")) == [
        "103-1240-0000",
        "103-1240-0001",
        "19-1240-0000",
        "19-1240-0001",
    ]
    assert not (dump / "video.scp").exists()
    frames = {k: int(v) for k, v in read_table(dump / "utt2num_frames").items()}
    assert frames["19-1240-0001"] == 1 + 16000 // 256  # 1 s at the 16 ms hop
    audio_exp = recipe / "exp" / "audio_train_audio"
    # the audio model keeps the front-end settings its mel was made with
    assert (audio_exp / "frontend.yaml").read_text() == (dump / "frontend.yaml").read_text()
    config = yaml.safe_load((audio_exp / "config.yaml").read_text())
    assert config["model_conf"]["decoder_conf"] == TINY_MODEL_CONF["decoder_conf"]  # from conf/train.yaml
    assert (
        config["model_conf"]["encoder_conf"]["output_size"]
        == 2 * TINY_MODEL_CONF["encoder_conf"]["lstm_units"]
    )
    reliance = json.loads((audio_exp / "reliance.json").read_text())
    assert reliance["utterances"] == 2 and reliance["bottleneck"] == 4
    assert all(math.isfinite(reliance[k]) and reliance[k] > 0 for k in ("full", "no_history", "no_memory"))

    # stage 4: the encoder (and all the rest) from an audio-visual model, the decoder side
    # from the audio model
    dump = recipe / "dump"
    write_corpus(dump / "train", 4, seed=1)
    write_corpus(dump / "valid", 2, seed=2)
    for dset in ("train", "valid"):  # the settings stage 2 made the mel with
        write_data_settings(dump / dset)
    # the audio-visual model normalises with other statistics than the audio model
    av = write_experiment(
        tmp_path / "av model", stats_of=dump / "valid" / "feats.scp", stop_mode="known_length"
    )
    _run(recipe, "--stage", "4", "--stop_stage", "4", "--train_set", "train", "--valid_set", "valid",
         "--pretrain_model", str(av / "model.pth"), "--audio_pretrain", "true",
         "--train_tag", "fine")  # fmt: skip
    audio = load_checkpoint(audio_exp / "valid.loss.best.pth")
    before = load_checkpoint(av / "model.pth")
    after = load_checkpoint(recipe / "exp" / "fine" / "valid.loss.best.pth")
    weights = [
        k for k, v in after.items() if v.is_floating_point() and "running" not in k and "normalize" not in k
    ]
    side = [k for k in weights if k.split(".")[0] in DECODER_SIDE]
    rest = [k for k in weights if k not in side]
    assert len(side) > 20 and any(k.startswith("encoder.") for k in rest)
    assert [k for k in side if torch.equal(after[k], audio[k])] == side
    assert [k for k in rest if torch.equal(after[k], before[k])] == rest
    # the decoder learned the audio model's normalised mel: its statistics come along, in the
    # stats file and in the model's normalisation buffers (not the audio-visual model's)
    assert (recipe / "exp" / "fine" / "feats_stats.npz").read_bytes() == (
        audio_exp / "feats_stats.npz"
    ).read_bytes()
    for key in ("normalize.mean", "normalize.std"):
        assert not torch.equal(audio[key], before[key])
        assert torch.equal(after[key], audio[key]), key

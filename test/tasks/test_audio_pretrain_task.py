"""Audio pre-training through ESPnet's trainer, and its decoder in LipSound2 through
``--init_param``: transferred, frozen for the stated updates (Adam with weight decay
included), then trained."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from lipsound2.bin import train, train_audio
from lipsound2.nets.audio_pretrain import AudioPretrainModel
from lipsound2.nets.lipsound2 import DECODER_SIDE
from lipsound2.tasks.checkpoint import load_checkpoint, load_model
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF
from lipsound2_testing.trainer import NO_PLOTS

SPECAUG = {"apply_freq_mask": True, "freq_mask_width_range": [0, 10], "num_freq_mask": 1,
           "apply_time_mask": True, "time_mask_width_range": [0, 4], "num_time_mask": 1}  # fmt: skip
AUDIO_ENCODER = {
    "conv_channels": 8,
    "lstm_units": 8,
    "bottleneck": 4,
    "noise_std": 0.3,
    "specaug_conf": SPECAUG,
}
TRAINING = {"batch_type": "sorted", "batch_size": 4, "num_att_plot": 0, "num_workers": 0, "seed": 3,
            "best_model_criterion": [["valid", "loss", "min"]], "keep_nbest_models": 10,
            **NO_PLOTS}  # fmt: skip


def _write(path: Path, conf: dict) -> Path:
    path.write_text(yaml.safe_dump(conf))
    return path


def _data(corpus: Path, video: bool) -> list[str]:
    args = []
    for split in ("train", "valid"):
        if video:
            args += [
                f"--{split}_data_path_and_name_and_type",
                f"{corpus / split / 'video.scp'},video,face_track",
            ]
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'feats.scp'},feats,kaldi_ark"]
        args += [f"--{split}_shape_file", str(corpus / split / ("video_shape" if video else "feats_shape"))]
    return args


def _decoder_side(state: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.split(".")[0] in DECODER_SIDE}


def test_a_frozen_transferred_decoder_stays_the_audio_models_for_n_updates(tiny_corpus: Path, tmp_path: Path):
    lipsound2_model = {**TINY_MODEL_CONF, "stop_mode": "known_length", "freeze_decoder_updates": 2}
    lipsound2_config = _write(tmp_path / "train.yaml", {"model_conf": lipsound2_model})
    audio_config = _write(
        tmp_path / "audio.yaml",
        {
            "model_conf": {"encoder_conf": AUDIO_ENCODER},
            "optim": "adam",
            "optim_conf": {"lr": 0.003},
            **TRAINING,
        },
    )
    audio_exp = tmp_path / "audio"
    train_audio.main(
        ["--config", str(audio_config), "--lipsound2_config", str(lipsound2_config),
         "--output_dir", str(audio_exp), "--ngpu", "0", "--max_epoch", "1", *_data(tiny_corpus, video=False)]
    )  # fmt: skip
    audio_model, _ = load_model(audio_exp / "config.yaml", audio_exp / "valid.loss.best.pth")
    assert isinstance(audio_model, AudioPretrainModel)
    audio = load_checkpoint(audio_exp / "valid.loss.best.pth")
    # Adam with weight decay: a parameter the optimiser saw at all would move
    fine_config = _write(
        tmp_path / "fine.yaml",
        {"model_conf": lipsound2_model, "optim": "adam", "optim_conf": {"lr": 0.003, "weight_decay": 0.1},
         "hflip_prob": 0.0, **TRAINING},
    )  # fmt: skip
    # one --init_param with every PATH:SRC_KEY:DST_KEY (a second --init_param would replace the first)
    init = [f"{audio_exp / 'valid.loss.best.pth'}:{key}:{key}" for key in DECODER_SIDE]
    fine_exp = tmp_path / "fine"
    train.main(
        ["--config", str(fine_config), "--output_dir", str(fine_exp), "--ngpu", "0", "--max_epoch", "2",
         *_data(tiny_corpus, video=True), "--init_param", *init]
    )  # fmt: skip
    first, second = load_checkpoint(fine_exp / "1epoch.pth"), load_checkpoint(fine_exp / "2epoch.pth")
    assert int(first["num_updates"]) == 2 and int(second["num_updates"]) == 4  # 8 utterances, batch 4
    decoder = _decoder_side(audio)
    assert len(decoder) > 20
    # after the 2 frozen updates: every tensor of the decoder side (BatchNorm statistics too)
    # is the audio model's
    unchanged = [k for k in decoder if torch.equal(decoder[k], first[k])]
    assert unchanged == list(decoder)
    # ... while the encoder learned through the frozen decoder
    assert any(not torch.equal(first[k], second[k]) for k in first if k.startswith("encoder."))
    # after 2 more updates, released: every weight of the decoder side moved
    weights = [k for k, v in decoder.items() if v.is_floating_point() and "running" not in k]
    moved = [k for k in weights if not torch.equal(decoder[k], second[k])]
    assert moved == weights

"""Building the LipSound2 model from a training config without ESPnet's task machinery.

:class:`~lipsound2.tasks.lipsound2.LipSound2Task` builds its model here, and so does loading a
model for inference (:func:`lipsound2.tasks.checkpoint.load_model`): importing the task
takes seconds and pulls in ESPnet's text front ends, one of which tries to download data at
import time, none of which inference needs.
"""

from __future__ import annotations

import argparse

import torch
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.layers.global_mvn import GlobalMVN
from espnet2.train.class_choices import ClassChoices

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.nets.audio_pretrain import AudioPretrainModel
from lipsound2.nets.encoder import VisualEncoder
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.tasks.ranks import seed_this_rank

normalize_choices = ClassChoices(
    "normalize", classes=dict(global_mvn=GlobalMVN), type_check=AbsNormalize, default=None, optional=True
)


# What an audio pre-trained model must share with the LipSound2 model that takes its decoder.
DECODER_KEYS = ("decoder_conf", "postnet_conf")


def _normalize(args: argparse.Namespace):
    if getattr(args, "normalize", None) is None:
        return None
    return normalize_choices.get_class(args.normalize)(**args.normalize_conf)


def decoder_settings(lipsound2_config: str) -> dict:
    """From a LipSound2 training config: its ``decoder_conf``, ``postnet_conf`` and the output
    size of its video encoder (the decoder's memory size), as an audio model's ``model_conf``."""
    model_conf = load_yaml(lipsound2_config).get("model_conf") or {}
    settings = {key: dict(model_conf.get(key) or {}) for key in DECODER_KEYS}
    encoder = VisualEncoder(
        model_conf.get("in_channels", 1),
        model_conf.get("image_size", 112),
        **(model_conf.get("encoder_conf") or {}),
    )
    settings["encoder_conf"] = {"output_size": encoder.output_size}
    return settings


def build_model(args: argparse.Namespace) -> LipSound2:
    """The model; its feature settings filled in from (and checked against) the front end.
    An audio pre-training model (``args.lipsound2_config`` present, see
    :class:`~lipsound2.tasks.audio_pretrain.AudioPretrainTask`) also gets its decoder settings
    from the LipSound2 config named there."""
    source = getattr(args, "frontend_config", None)
    frontend = load_config(source)
    conf = dict(args.model_conf)
    conf.setdefault("n_mels", frontend.mel.n_mels)
    conf.setdefault("mel_per_video_frame", frontend.mel_per_video_frame)
    audio = hasattr(args, "lipsound2_config")
    if audio and args.lipsound2_config is not None:
        _take_decoder_settings(conf, args.lipsound2_config)
    args.model_conf = conf  # ESPnet writes args to config.yaml after building the model
    model = (AudioPretrainModel if audio else LipSound2)(**conf, normalize=_normalize(args))
    model.check_features(
        frontend.mel.n_mels, frontend.mel_per_video_frame, source or "the default front-end settings"
    )
    side, crop = getattr(model, "image_size", None), frontend.crop.size
    if not audio and side is not None and side != crop:
        raise ValueError(
            f"model_conf image_size is {side} but the face tracks are {crop}x{crop} crops "
            f"({source or 'the default front-end settings'}: crop.size): set model_conf image_size "
            f"to {crop}, or make the tracks again with crop.size {side}"
        )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        seed_this_rank(args.seed)  # a distributed training, after the initialisation all ranks share
    return model


def _take_decoder_settings(conf: dict, lipsound2_config: str) -> None:
    """Fill ``conf`` (an audio model's ``model_conf``) with the decoder settings of
    ``lipsound2_config``; a value ``conf`` already sets otherwise is an error."""
    wanted = decoder_settings(lipsound2_config)
    for key in DECODER_KEYS:
        if key in conf and dict(conf[key] or {}) != wanted[key]:
            raise ValueError(
                f"model_conf {key} is {conf[key]} but the LipSound2 config {lipsound2_config} has "
                f"{wanted[key]}: leave it out, the decoder must be the one that model will take"
            )
        conf[key] = wanted[key]
    encoder_conf = dict(conf.get("encoder_conf") or {})
    size = wanted["encoder_conf"]["output_size"]
    if encoder_conf.get("output_size", size) != size:
        raise ValueError(
            f"model_conf encoder_conf output_size is {encoder_conf['output_size']} but the video "
            f"encoder of {lipsound2_config} gives {size} per frame: leave it out"
        )
    conf["encoder_conf"] = {**encoder_conf, "output_size": size}

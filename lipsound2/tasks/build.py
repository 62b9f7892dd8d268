"""Building the LipSound2 model from a training config without ESPnet's task machinery.

:class:`~lipsound2.tasks.lipsound2.LipSound2Task` builds its model here, and so does loading a
model for inference (:func:`lipsound2.tasks.checkpoint.load_model`): importing the task
takes seconds and pulls in ESPnet's text front ends, one of which tries to download data at
import time, none of which inference needs.
"""

from __future__ import annotations

import argparse

from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.layers.global_mvn import GlobalMVN
from espnet2.train.class_choices import ClassChoices

from lipsound2.frontend.config import load_config
from lipsound2.nets.lipsound2 import LipSound2

normalize_choices = ClassChoices(
    "normalize", classes=dict(global_mvn=GlobalMVN), type_check=AbsNormalize, default=None, optional=True
)


def build_model(args: argparse.Namespace) -> LipSound2:
    """The model; its feature settings filled in from (and checked against) the front end."""
    source = getattr(args, "frontend_config", None)
    frontend = load_config(source)
    conf = dict(args.model_conf)
    conf.setdefault("n_mels", frontend.mel.n_mels)
    conf.setdefault("mel_per_video_frame", frontend.mel_per_video_frame)
    args.model_conf = conf  # ESPnet writes args to config.yaml after building the model
    normalize = None
    if getattr(args, "normalize", None) is not None:
        normalize = normalize_choices.get_class(args.normalize)(**args.normalize_conf)
    model = LipSound2(**conf, normalize=normalize)
    model.check_features(
        frontend.mel.n_mels, frontend.mel_per_video_frame, source or "the default front-end settings"
    )
    return model

"""Loading LipSound2 experiments with ``torch.load(..., weights_only=True)``.

Model files (``valid.loss.best.pth``, ``*epoch.pth``, averaged models) are plain state
dicts. ESPnet's resumable ``checkpoint.pth`` also holds the reporter's numpy scalars and
timings, so those three harmless types are allow-listed for it.
"""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

import numpy as np
import torch

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import MODEL_SECTIONS, settings_beside
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.tasks.build import build_model

CHECKPOINT_GLOBALS = [np.dtype, np._core.multiarray.scalar, datetime.timedelta]


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Any file the trainer writes, loaded with ``weights_only=True``."""
    with torch.serialization.safe_globals(CHECKPOINT_GLOBALS + [type(np.dtype(np.float64))]):
        return torch.load(path, map_location="cpu", weights_only=True)


def model_frontend(
    train_config: str | os.PathLike, frontend_config: str | os.PathLike | None = None
) -> str | os.PathLike | None:
    """The front-end file of an experiment's model: ``frontend_config``, or without one the
    ``frontend.yaml`` the experiment keeps beside its ``config.yaml`` (None when it has none:
    the defaults). A ``frontend_config`` that differs from the experiment's file in what the
    model depends on (the mel, video.fps) raises ``ValueError`` naming both and the keys."""
    return settings_beside(
        frontend_config,
        Path(train_config).parent,
        MODEL_SECTIONS,
        "the settings the model was trained with",
        "give that file, or no front-end file (the experiment's is the default)",
    )


def load_model(
    train_config: str | os.PathLike,
    model_file: str | os.PathLike,
    frontend_config: str | os.PathLike | None = None,
    stats_file: str | os.PathLike | None = None,
) -> tuple[LipSound2, argparse.Namespace]:
    """Build the model from an experiment's ``config.yaml`` and load ``model_file`` into it.

    The model is checked against the front end :func:`model_frontend` resolves (the settings
    its output will be vocoded with), not the path recorded at training time; the returned
    args' ``frontend_config`` is that file. ``stats_file``: the mel statistics of a model that
    normalises its targets, in place of the path its config recorded (a moved experiment, a
    packed model). The statistics the model de-normalises with are those saved in
    ``model_file``; the file is needed to build it.
    """
    frontend_config = model_frontend(train_config, frontend_config)
    args = argparse.Namespace(**load_yaml(train_config))
    args.frontend_config = None if frontend_config is None else str(frontend_config)
    if hasattr(args, "lipsound2_config"):  # an audio pre-trained model: its model_conf is complete
        args.lipsound2_config = None
    if getattr(args, "normalize", None) is not None:
        conf = dict(getattr(args, "normalize_conf", None) or {})
        if stats_file is not None:
            conf["stats_file"] = str(stats_file)
        if not Path(conf.get("stats_file", "")).is_file():
            raise FileNotFoundError(
                f"{train_config}: the model normalises its mel ({args.normalize}) with statistics "
                f"{conf.get('stats_file')!r}, which is not a file; give the experiment's feats_stats.npz"
            )
        args.normalize_conf = conf
    model = build_model(args)
    state = load_checkpoint(model_file)
    if "model" in state and isinstance(state["model"], dict):  # checkpoint.pth
        state = state["model"]
    model.load_state_dict(state)
    return model.eval(), args

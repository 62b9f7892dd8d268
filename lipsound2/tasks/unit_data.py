"""Checks, when training starts, that a model's unit head and the data's units agree."""

from __future__ import annotations

import argparse
from pathlib import Path

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.nets.lipsound2 import LipSound2

UNITS_NAME = "units"


def unit_scps(args: argparse.Namespace) -> dict[str, Path]:
    """``units.scp`` of the training and validation data, by ``train``/``valid``."""
    found = {}
    for split in ("train", "valid"):
        for path, name, _ in getattr(args, f"{split}_data_path_and_name_and_type", None) or []:
            if name == UNITS_NAME:
                found[split] = Path(path)
    return found


def check_unit_data(args: argparse.Namespace, model: LipSound2) -> None:
    """Raise ``ValueError`` when a model with a unit head lacks units in its training or
    validation data, or when its ``num_units`` is not the ``k`` of the ``units.yaml`` that
    stage 2 wrote beside a ``units.scp``. A model without a unit head ignores units."""
    if model.unit_head is None:
        return
    scps = unit_scps(args)
    for split in ("train", "valid"):
        if split not in scps:
            raise ValueError(
                f"model_conf unit_weight is {model.unit_weight} but the {split} data has no "
                f"units: give --{split}_data_path_and_name_and_type dump/<set>/units.scp,units,kaldi_ark "
                "(stage 2 with --unit_type), or set unit_weight 0"
            )
        about = scps[split].with_name("units.yaml")
        if not about.is_file():
            raise ValueError(
                f"{about} is missing: the units of {scps[split]} do not say their k (stage 2 writes it)"
            )
        k = load_yaml(about).get("k")
        if k != model.num_units:
            raise ValueError(
                f"model_conf num_units is {model.num_units} but the units of {scps[split]} have k={k} "
                f"({about}): set num_units to {k} or compute units with --unit_k {model.num_units}"
            )

"""The fine-tuning config of a pre-trained ESPnet ASR: its model, a fresh schedule, lr = peak x factor.

The paper fine-tunes with a learning rate 10 times smaller than the pre-training one. The
rate that matters is the pre-trained **peak**: with a warm-up scheduler the configured
``optim_conf.lr`` is only a scale (NoamLR's peak is ``lr / sqrt(model_size * warmup)``),
or a rate reached after the warm-up (WarmupLR, whose peak equals ``lr``). The pre-trained
scheduler is not kept: a fine-tuning run starts its step count at 1, so a kept warm-up of
25000 steps would spend a short fine-tuning at a small fraction of the intended rate.
Fine-tuning runs at a constant ``peak x lr_factor`` unless its own config names a scheduler
whose peak is the optimiser's lr (e.g. ``warmuplr`` with a short ``warmup_steps``).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from lipsound2 import paper
from lipsound2.fileio.yamlio import load_yaml

# Keys of an ESPnet training config.yaml that belong to one run, not to the model.
RUN_KEYS = (
    "config",
    "output_dir",
    "train_data_path_and_name_and_type",
    "valid_data_path_and_name_and_type",
    "train_shape_file",
    "valid_shape_file",
    "init_param",
    "print_config",
    "collect_stats",
    "write_collected_feats",
    "resume",
    "ngpu",
    "dist_rank",
    "local_rank",
    "dist_master_addr",
    "dist_master_port",
    "dist_launcher",
    "multiprocessing_distributed",
    "dist_world_size",
    "distributed",
    "required",
    "version",
    "pretrain_path",
)
SCHEDULE_KEYS = ("scheduler", "scheduler_conf")

# ESPnet schedulers (lower-case names, as espnet2.tasks.abs_task knows them) whose highest
# rate is the optimiser's lr: torch's decaying ones start there, ESPnet's warm-up ones
# (WarmupLR, WarmupStepLR, WarmupReduceLROnPlateau, TristageLR) reach it after the warm-up.
PEAK_IS_LR = frozenset(
    {
        "reducelronplateau",
        "steplr",
        "multisteplr",
        "exponentiallr",
        "cosineannealinglr",
        "cosineannealingwarmrestarts",
        "warmuplr",
        "warmupsteplr",
        "warmupreducelronplateau",
        "tristagelr",
    }
)
# Schedulers that set the rate themselves: the peak is this scheduler_conf key.
PEAK_IN_CONF = {
    "onecyclelr": "max_lr",
    "cycliclr": "max_lr",
    "cosineannealingwarmuprestarts": "max_lr",
    "exponentialdecaywarmup": "max_lr",
}


def _conf_value(scheduler: str, conf: dict[str, Any], key: str) -> Any:
    """``conf[key]``, else the default of the scheduler class ESPnet builds."""
    if key in conf:
        return conf[key]
    from espnet2.tasks.abs_task import scheduler_classes

    default = inspect.signature(scheduler_classes[scheduler]).parameters[key].default
    if default is inspect.Parameter.empty:
        raise ValueError(f"scheduler {scheduler}: scheduler_conf.{key} is required")
    return default


def peak_lr(config: dict[str, Any]) -> float:
    """The highest learning rate the config's optimiser and scheduler reach."""
    scheduler = str(config.get("scheduler") or "none").lower()
    conf = config.get("scheduler_conf") or {}
    if scheduler in PEAK_IN_CONF:
        return float(_conf_value(scheduler, conf, PEAK_IN_CONF[scheduler]))
    lr = (config.get("optim_conf") or {}).get("lr")
    if lr is None:
        raise ValueError("no optim_conf.lr in the config")
    lr = float(lr)
    if scheduler == "none" or scheduler in PEAK_IS_LR:
        return lr
    if scheduler == "noamlr":
        # lr * model_size^-0.5 * min(step^-0.5, step * warmup^-1.5), highest at step = warmup
        model_size = float(_conf_value(scheduler, conf, "model_size"))
        warmup = float(_conf_value(scheduler, conf, "warmup_steps"))
        return lr * model_size**-0.5 * warmup**-0.5
    if scheduler == "piecewiselinearwarmuplr":
        # the listed rates during the warm-up, then lr * sqrt(last warm-up step / step)
        return max(max(float(x) for x in _conf_value(scheduler, conf, "warmup_lr_list")), lr)
    raise ValueError(f"scheduler {scheduler!r}: its peak learning rate is not known here")


def finetune_config(
    pretrained_config: str | os.PathLike,
    overrides: dict[str, Any],
    lr_factor: float = paper.ASR_LR_FACTOR,
) -> dict[str, Any]:
    """The pre-trained model's config for fine-tuning: lr = pre-trained peak x ``lr_factor``.

    The architecture, front end, normalisation and token list stay the pre-trained model's
    (they must, to load its weights); run keys are dropped; ``overrides`` (the fine-tuning
    config: ``max_epoch``, batch size, ...) apply on top. The schedule is the fine-tuning
    config's alone: no scheduler (a constant rate) unless it names one whose peak is the lr.
    """
    pretrained = load_yaml(pretrained_config)
    try:
        peak = peak_lr(pretrained)
    except ValueError as exc:
        raise ValueError(f"{pretrained_config}: {exc}") from exc
    if (overrides.get("optim_conf") or {}).get("lr") is not None:
        raise ValueError(
            "the fine-tuning config sets optim_conf.lr; the rate is the pre-trained peak x lr_factor"
        )
    scheduler = overrides.get("scheduler")
    if scheduler is not None and str(scheduler).lower() not in PEAK_IS_LR:
        raise ValueError(
            f"fine-tuning scheduler {scheduler!r}: use none or one whose peak is the lr "
            f"({', '.join(sorted(PEAK_IS_LR))})"
        )
    drop = RUN_KEYS + SCHEDULE_KEYS
    config = {k: v for k, v in pretrained.items() if k not in drop}
    for key, value in overrides.items():
        if key == "optim_conf" and isinstance(value, dict):
            config[key] = {**(config.get(key) or {}), **value}
        elif key not in RUN_KEYS:
            config[key] = value
    config["scheduler"] = scheduler
    config["scheduler_conf"] = overrides.get("scheduler_conf") or {}
    config["optim_conf"] = {**(config.get("optim_conf") or {}), "lr": peak * lr_factor}
    return config

"""Settings for training on GPUs: the GPU configs turn cuDNN's deterministic mode off, and
``freeze_decoder_updates`` is refused under DataParallel (its replicas hold no parameters, so
the freeze would apply to copies), by the task before training and by a replica's forward."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from espnet2.train.distributed_utils import resolve_distributed_mode

from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.tasks.lipsound2 import LipSound2Task
from lipsound2_testing.nets import TINY, batch

ROOT = Path(__file__).resolve().parents[2]


def _gpu_training_configs() -> list[Path]:
    """Every training config meant for GPUs: named *gpu* or using mixed precision (links to
    the same file counted once)."""
    found = {}
    for path in sorted((ROOT / "egs").glob("*/conf/**/*.yaml")):
        if "gpu" in path.name or (yaml.safe_load(path.read_text()) or {}).get("use_amp"):
            found.setdefault(path.resolve(), path)
    return sorted(found.values())


def test_gpu_configs_turn_cudnn_deterministic_off():
    """ESPnet's default (true) is slow for the encoder's 3-D convolutions: each GPU config sets
    false, and ESPnet's parser reads it so."""
    configs = _gpu_training_configs()
    assert len(configs) >= 4, configs  # egs/grid/conf/tuning/train_*gpu*.yaml
    parser = LipSound2Task.get_parser()
    assert parser.parse_args([]).cudnn_deterministic is True  # the default these configs change
    missing = [
        str(p.relative_to(ROOT))
        for p in configs
        if yaml.safe_load(p.read_text()).get("cudnn_deterministic") is not False
    ]
    assert not missing, f"GPU configs without cudnn_deterministic: false: {missing}"
    for path in configs:
        assert parser.parse_args(["--config", str(path)]).cudnn_deterministic is False, path


def _training_args(tmp_path: Path, *options: str, freeze: int = 2):
    """The arguments ESPnet's ``main`` hands the task: parsed by the task's parser, then
    resolved into ``args.distributed`` (what decides DataParallel or DDP in ESPnet's trainer)."""
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"model_conf": {**TINY, "freeze_decoder_updates": freeze}}))
    args = LipSound2Task.get_parser().parse_args(
        ["--config", str(config), "--output_dir", str(tmp_path / "exp"), *options]
    )
    resolve_distributed_mode(args)
    return args


@pytest.mark.parametrize(
    "options",
    [["--ngpu", "2", "--multiprocessing_distributed", "false"], ["--ngpu", "4"]],
    ids=["ngpu2", "ngpu4-default"],
)
def test_task_refuses_a_frozen_decoder_under_data_parallel(tmp_path, options):
    """``--ngpu`` > 1 in one process: ESPnet's trainer would wrap the model in DataParallel."""
    args = _training_args(tmp_path, *options)
    assert args.ngpu > 1 and not args.distributed
    model = LipSound2Task.build_model(args)
    with pytest.raises(ValueError, match=r"freeze_decoder_updates=2 .*DataParallel") as refused:
        LipSound2Task.build_optimizers(args, model)
    assert "--multiprocessing_distributed true" in str(refused.value)
    assert "DistributedDataParallel" in str(refused.value)


@pytest.mark.parametrize(
    ("options", "freeze"),
    [
        (["--ngpu", "2", "--multiprocessing_distributed", "true"], 2),  # DDP: one process per GPU
        (["--ngpu", "0"], 2),
        (["--ngpu", "1"], 2),
        (["--ngpu", "2", "--multiprocessing_distributed", "false"], 0),  # nothing to freeze
    ],
    ids=["ddp", "cpu", "one-gpu", "no-freeze"],
)
def test_task_accepts_the_other_combinations(tmp_path, options, freeze):
    args = _training_args(tmp_path, *options, freeze=freeze)
    model = LipSound2Task.build_model(args)
    assert len(LipSound2Task.build_optimizers(args, model)) == 1


def test_a_data_parallel_replica_refuses_to_freeze():
    """What DataParallel runs on each GPU: a replica, made here by torch's own
    ``Module._replicate_for_data_parallel`` (``torch.nn.parallel.replicate``, which calls it for
    every submodule, needs GPUs). Replicas hold no parameters of their own (``_parameters`` is
    emptied), so a freeze applied in one would not reach the module the optimiser updates."""
    model = LipSound2(stop_mode="known_length", freeze_decoder_updates=2, **TINY)
    replica = model._replicate_for_data_parallel()
    assert replica._is_replica and replica._parameters == {}
    video, vl, feats, fl = batch([4, 3], [10, 7])
    with pytest.raises(RuntimeError, match=r"freeze_decoder_updates=2 .*--multiprocessing_distributed true"):
        replica(video, vl, feats, fl)
    model(video, vl, feats, fl)  # the module itself (one process, or a DDP rank) trains
    assert not any(p.requires_grad for p in model.decoder.parameters())
    plain = LipSound2(stop_mode="known_length", **TINY)._replicate_for_data_parallel()
    plain(video, vl, feats, fl)  # no freeze: DataParallel is fine
    # torch.nn.DataParallel without GPUs calls the module itself, which is allowed
    loss, _, _ = torch.nn.DataParallel(model)(video, vl, feats, fl)
    assert torch.isfinite(loss).all()

"""The fine-tuning rate: the pre-trained schedule's real peak x factor, the schedule not kept."""

from __future__ import annotations

import pytest
import torch
import yaml
from espnet2.tasks.abs_task import scheduler_classes

from lipsound2.asr.finetune import finetune_config, peak_lr

SCHEDULES = {
    "none": (0.002, None, {}),
    "warmuplr": (0.002, "warmuplr", {"warmup_steps": 50}),
    "noamlr": (5.0, "noamlr", {"model_size": 256, "warmup_steps": 40}),
    "noamlr defaults": (50.0, "noamlr", {}),
    "piecewise": (
        0.002,
        "piecewiselinearwarmuplr",
        {"warmup_steps_list": [0, 30], "warmup_lr_list": [0.0, 0.003]},
    ),
    "warmupsteplr": (0.002, "warmupsteplr", {"warmup_steps": 30, "steps_per_epoch": 10}),
    "tristagelr": (0.002, "tristagelr", {"max_steps": 100}),
    "onecyclelr": (0.002, "onecyclelr", {"max_lr": 0.01, "total_steps": 300}),
    "exponentialdecaywarmup": (
        0.002,
        "exponentialdecaywarmup",
        {"max_lr": 0.01, "min_lr": 0.001, "total_steps": 300, "warmup_steps": 20},
    ),
    "steplr": (0.002, "steplr", {"step_size": 10, "gamma": 0.5}),
}


def _highest_rate(lr: float, scheduler: str | None, conf: dict, steps: int) -> float:
    """The highest rate ESPnet's own scheduler gives the optimiser over ``steps`` updates."""
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = scheduler_classes[scheduler](optimizer, **conf) if scheduler else None
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        if sched is not None:
            sched.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return max(rates)


@pytest.mark.filterwarnings("ignore:NoamLR is deprecated")
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_peak_is_the_highest_rate_the_scheduler_gives(name):
    lr, scheduler, conf = SCHEDULES[name]
    steps = 25_000 if name == "noamlr defaults" else 300
    config = {"optim_conf": {"lr": lr}, "scheduler": scheduler, "scheduler_conf": conf}
    assert peak_lr(config) == pytest.approx(_highest_rate(lr, scheduler, conf, steps), rel=1e-3)


def _pretrained(tmp_path, **config):
    path = tmp_path / "config.yaml"
    base = {"encoder": "transformer", "optim": "adam", "token_list": ["<blank>", "<unk>", "A"], "ngpu": 1}
    path.write_text(yaml.safe_dump({**base, **config}))
    return path


def test_finetuning_drops_the_warmup_and_runs_at_peak_times_factor(tmp_path):
    pre = _pretrained(
        tmp_path, optim_conf={"lr": 5.0, "weight_decay": 1e-6}, scheduler="noamlr",
        scheduler_conf={"model_size": 256, "warmup_steps": 25000},
    )  # fmt: skip
    config = finetune_config(pre, {"max_epoch": 3}, lr_factor=0.1)
    assert config["scheduler"] is None and config["scheduler_conf"] == {}
    assert config["optim_conf"] == {
        "lr": pytest.approx(5.0 / (256 * 25000) ** 0.5 * 0.1),
        "weight_decay": 1e-6,
    }
    assert config["max_epoch"] == 3 and config["encoder"] == "transformer" and "ngpu" not in config


def test_finetuning_may_name_a_short_warmup_to_the_same_peak(tmp_path):
    pre = _pretrained(
        tmp_path, optim_conf={"lr": 0.002}, scheduler="warmuplr", scheduler_conf={"warmup_steps": 25000}
    )
    ft = {"scheduler": "warmuplr", "scheduler_conf": {"warmup_steps": 100}}
    config = finetune_config(pre, ft, lr_factor=0.1)
    assert config["scheduler_conf"] == {"warmup_steps": 100}
    assert peak_lr(config) == pytest.approx(0.0002)


@pytest.mark.parametrize(
    "ft, match",
    [
        ({"optim_conf": {"lr": 0.1}}, "optim_conf.lr"),
        ({"scheduler": "noamlr"}, "noamlr"),
    ],
)
def test_fine_tuning_configs_that_would_miss_the_rate_are_refused(tmp_path, ft, match):
    pre = _pretrained(tmp_path, optim_conf={"lr": 0.002})
    with pytest.raises(ValueError, match=match):
        finetune_config(pre, ft)


def test_unknown_pretrained_schedule_is_named(tmp_path):
    pre = _pretrained(tmp_path, optim_conf={"lr": 0.002}, scheduler="lambdalr")
    with pytest.raises(ValueError, match=f"{pre}.*lambdalr"):
        finetune_config(pre, {})


def test_a_scheduler_that_sets_the_rate_needs_no_optimiser_lr():
    assert peak_lr({"scheduler": "onecyclelr", "scheduler_conf": {"max_lr": 0.01, "total_steps": 10}}) == 0.01

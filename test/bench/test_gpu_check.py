"""bench/gpu_check.py on a machine without a GPU: a clear refusal, and every step in its CPU mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_stops_with_a_clear_error(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out_dir", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "sees no CUDA GPU" in proc.stderr and "--dry_run_cpu" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_cpu_device_is_refused_without_the_dry_run(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out_dir", str(tmp_path), "--device", "cpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--dry_run_cpu" in proc.stderr


def test_the_cpu_mode_runs_every_step(tmp_path: Path, grid_clips: list[Path]):
    """Real clips through stages 1-2, the comparisons, ESPnet training with a frozen decoder and
    units and its resume, inference, a pack spoken by lipsound2-speak, and the timings, all on the
    CPU with tiny sizes (about 3-5 minutes on 2 cores)."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry_run_cpu", "--out_dir", str(out),
         "--work_dir", str(tmp_path / "work"), "--clips", *map(str, grid_clips[:3])],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    steps = results["steps"]
    failed = {
        name: step.get("failed_checks") or step.get("error") for name, step in steps.items() if not step["ok"]
    }
    assert proc.returncode == 0 and not failed, (failed, proc.stdout[-3000:], proc.stderr[-3000:])
    assert list(steps) == ["environment", "data", "fp32", "autocast", "generate", "train", "infer", "speak",
                           "update_time", "decode_speed", "vocoder"]  # fmt: skip
    train = steps["train"]["figures"]
    assert train["checks"]["decoder_frozen_in_epoch_1"] and train["checks"]["resumed_at_epoch_3"]
    assert len(steps["update_time"]["figures"]["rows"]) == 4
    table = (out / "results.md").read_text()
    assert all(f"| {name} | yes |" in table for name in steps)

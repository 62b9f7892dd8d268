"""The test run's own order (test/conftest.py): the two long integration modules go out first,
then the tiers slowest first, and the Makefile keeps pytest-xdist from sending the modules
with the most tests first instead. A run whose long modules start last ends minutes later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collected_modules(*paths: str) -> list[str]:
    """The test modules in the order a run collects them (one worker's view of the queue)."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", *paths]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    modules: list[str] = []
    for line in res.stdout.splitlines():
        module = line.split("::")[0]
        if "::" in line and (not modules or modules[-1] != module):
            modules.append(module)
    return modules


def test_the_long_modules_then_the_slow_tiers_go_first():
    order = _collected_modules(
        "test/report/test_report.py",
        "test/egs/test_stage9.py",
        "test/integration/test_grid_real.py",
        "test/integration/test_mini_grid.py",
        "test/integration/test_rerun_after_edit.py",
    )
    assert order == [
        "test/integration/test_rerun_after_edit.py",
        "test/integration/test_mini_grid.py",
        "test/integration/test_grid_real.py",
        "test/egs/test_stage9.py",
        "test/report/test_report.py",
    ]


def test_make_keeps_that_order_across_the_workers():
    res = subprocess.run(["make", "-n", "test-unit"], cwd=ROOT, capture_output=True, text=True, check=True)
    line = next(cmd for cmd in res.stdout.splitlines() if " -m pytest " in cmd)
    assert "--dist loadfile" in line and "--no-loadscope-reorder" in line

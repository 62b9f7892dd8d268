"""Validation losses of trained experiments, read from ESPnet's training log.

Free-running metrics say how good the speech is; the teacher-forced validation loss (the
paper's Eq. 5) says how much a model has learned at all, which is what separates the
demo's comparisons (pre-trained or not, real or blank video) after a short CPU training.
"""

from __future__ import annotations

import re
from pathlib import Path

# "12epoch results: [train] k=v, ... [valid] k=v, ..." as espnet2's trainer logs it
_EPOCH = re.compile(r"(\d+)epoch results: .*\[valid\] (.*)$")
_PAIR = re.compile(r"([A-Za-z_]+)=([-+0-9.eE]+)")


def best_validation(train_log: str | Path) -> dict[str, float] | None:
    """The valid statistics of the epoch with the lowest valid ``loss`` (with ``epoch``)."""
    path = Path(train_log)
    if not path.is_file():
        return None
    best: dict[str, float] | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _EPOCH.search(line)
        if not match:
            continue
        stats = {k: float(v) for k, v in _PAIR.findall(match.group(2))}
        if "loss" in stats and (best is None or stats["loss"] < best["loss"]):
            best = {"epoch": float(match.group(1)), **stats}
    return best


def experiment_of(decode_dir: Path) -> Path | None:
    """The experiment a ``decode_<set>`` dir was inferred by (other rows have none)."""
    return decode_dir.parent if decode_dir.name.startswith("decode_") else None

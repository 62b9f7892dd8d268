"""Accuracy of predicted speech units against the reference units, beside the majority class.

    python -m lipsound2.bin.unit_accuracy --ref dump/test/units.scp \\
        --hyp exp/lipsound2/decode_test/units.scp [--out exp/lipsound2/decode_test/unit_accuracy.json]

Frame by frame over the utterances of ``--ref``: the share of mel frames whose predicted unit
is the reference one. A predicted sequence of another length (free-running decoding that
stopped elsewhere) is compared over the frames both have; the reference frames it lacks count
as wrong. The baseline predicts, for every frame, the unit most frequent in the reference
(``--train_ref``: in the training set's units instead, the baseline a model could know).
Utterances without a prediction are listed and count as wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.atomic import atomic_open


def majority_unit(units: dict[str, np.ndarray]) -> int:
    """The most frequent unit over all frames (the smallest on a tie)."""
    counts: Counter = Counter()
    for array in units.values():
        counts.update(np.asarray(array).tolist())
    if not counts:
        raise ValueError("no reference units")
    top = max(counts.values())
    return min(unit for unit, n in counts.items() if n == top)


def unit_accuracy(
    ref: dict[str, np.ndarray], hyp: dict[str, np.ndarray], majority_of: dict[str, np.ndarray] | None = None
) -> dict:
    """``accuracy`` and the ``majority_baseline`` (its ``majority_unit``) over the frames of ``ref``."""
    majority = majority_unit(majority_of if majority_of is not None else ref)
    frames = correct = baseline = 0
    missing = []
    for key, r in ref.items():
        r = np.asarray(r)
        frames += len(r)
        baseline += int((r == majority).sum())
        if key not in hyp:
            missing.append(key)
            continue
        h = np.asarray(hyp[key])
        n = min(len(r), len(h))
        correct += int((r[:n] == h[:n]).sum())
    if frames == 0:
        raise ValueError("the reference units have no frames")
    return {
        "accuracy": correct / frames,
        "majority_baseline": baseline / frames,
        "majority_unit": majority,
        "frames": frames,
        "utterances": len(ref),
        "missing": missing,
    }


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", type=Path, required=True, help="reference units.scp (stage 2)")
    p.add_argument("--hyp", type=Path, required=True, help="predicted units.scp (stage 5's decode dir)")
    p.add_argument(
        "--train_ref", type=Path, default=None, help="units.scp whose majority unit is the baseline"
    )
    p.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    return p


def main(cmd: list[str] | None = None) -> int:
    args = get_parser().parse_args(cmd)
    for path in (args.ref, args.hyp, args.train_ref):
        if path is not None and not path.is_file():
            raise SystemExit(f"{path}: no such units.scp")
    majority_of = read_scp(args.train_ref) if args.train_ref else None
    result = unit_accuracy(read_scp(args.ref), read_scp(args.hyp), majority_of)
    print(
        f"unit accuracy {100 * result['accuracy']:.1f} % over {result['frames']} frames of "
        f"{result['utterances']} utterances; majority class (unit {result['majority_unit']}) "
        f"{100 * result['majority_baseline']:.1f} %"
    )
    if result["missing"]:
        print(f"{len(result['missing'])} utterances without predicted units (counted wrong): "
              + " ".join(result["missing"][:10]), file=sys.stderr)  # fmt: skip
    if args.out is not None:
        with atomic_open(args.out) as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

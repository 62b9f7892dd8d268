"""``lipsound2.bin.unit_accuracy`` on a case counted by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lipsound2.bin import unit_accuracy
from lipsound2.fileio.ark import ArkWriter


def _write(path, units: dict[str, list[int]]):
    with ArkWriter(path.with_suffix(".ark"), path) as writer:
        for key, values in units.items():
            writer[key] = np.array(values, dtype=np.int32)
    return path


def test_accuracy_and_majority_baseline_counted_by_hand(tmp_path, capsys):
    # a: 3 of 4 right; b: predicted 2 of 3 frames, both right, the third counts wrong;
    # c: not predicted, 2 frames wrong. 5 of 9. Unit 1 is 4 of the 9 reference frames.
    ref = _write(tmp_path / "ref units.scp", {"a": [0, 1, 1, 2], "b": [1, 1, 3], "c": [2, 2]})
    hyp = _write(tmp_path / "hyp.scp", {"a": [0, 1, 2, 2], "b": [1, 1]})
    assert (
        unit_accuracy.main(["--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "acc.json")]) == 0
    )
    result = json.loads((tmp_path / "acc.json").read_text())
    assert result["accuracy"] == pytest.approx(5 / 9)
    assert result["majority_baseline"] == pytest.approx(4 / 9) and result["majority_unit"] == 1
    assert result["frames"] == 9 and result["missing"] == ["c"]
    assert "55.6 %" in capsys.readouterr().out
    # the training set's majority unit as the baseline: unit 2 is 3 of the 9 test frames
    train = _write(tmp_path / "train.scp", {"x": [2, 2, 2, 1]})
    result = unit_accuracy.unit_accuracy(
        *(unit_accuracy.read_scp(p) for p in (ref, hyp)), unit_accuracy.read_scp(train)
    )
    assert result["majority_unit"] == 2 and result["majority_baseline"] == pytest.approx(3 / 9)


def test_a_missing_file_is_named(tmp_path):
    ref = _write(tmp_path / "ref.scp", {"a": [0]})
    with pytest.raises(SystemExit, match="nope.scp"):
        unit_accuracy.main(["--ref", str(ref), "--hyp", str(tmp_path / "nope.scp")])

"""Stage 2 through the stage script: the mel of every set with the settings beside it, and its
optional units step: one unit per mel frame in every set, the k-means model under exp, and done
markers keyed on the unit options and the mel they were made from."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import yaml

from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table
from lipsound2_testing.recipe_dir import tone_set


def _run(recipe: Path, root: Path, *args: str, frontend: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [
        "./lipsound2.sh",
        "--stage",
        "2",
        "--stop_stage",
        "2",
        "--train_set",
        "train",
        "--valid_set",
        "train",
    ]
    cmd += [
        "--test_sets",
        "test",
        "--frontend_config",
        str(frontend or root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"),
    ]
    return subprocess.run([*cmd, *args], cwd=recipe, capture_output=True, text=True, timeout=300)


def _key(marker: Path) -> dict[str, str]:
    return json.loads(marker.read_text())["key"]


def test_stage2_writes_units_on_the_mel_frames_of_every_set(recipe, root):
    dump = recipe / "dump"
    tone_set(dump / "train", 5, 0)
    tone_set(dump / "test", 2, 1)

    res = _run(recipe, root)  # --unit_type none: the mel, nothing of units
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stage 2: dump/test (mel): new" in res.stderr
    for dset in ("train", "test"):
        assert read_table(dump / dset / "feats.scp").keys() == read_table(dump / dset / "wav.scp").keys()
        # the settings the mel was made with travel with it, every key resolved
        assert yaml.safe_load((dump / dset / "frontend.yaml").read_text())["mel"]["n_mels"] == 80
        assert "frontend: mel.hop_length" in _key(dump / dset / ".done.stage2")
    assert not list(dump.glob("*/units.scp")) and not list((recipe / "exp").glob("units_*"))

    res = _run(recipe, root, "--unit_type", "mfcc", "--unit_k", "8")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stage 2: dump/test (mel): done" in res.stderr
    for dset in ("train", "test"):
        units = read_scp(dump / dset / "units.scp")
        frames = read_table(dump / dset / "utt2num_frames")
        assert set(units) == set(frames)
        assert all(len(u) == int(frames[k]) and u.max() < 8 for k, u in units.items())
        assert _key(dump / dset / ".done.units")["option unit_type"] == "mfcc"
    kmeans = recipe / "exp" / "units_mfcc_k8"
    assert (kmeans / "kmeans.npz").is_file() and (kmeans / ".done.kmeans").is_file()
    first = (dump / "test" / "units.scp").stat().st_mtime_ns
    mfcc_units = read_scp(dump / "test" / "units.scp")

    res = _run(recipe, root, "--unit_type", "mfcc", "--unit_k", "8")  # nothing changed
    assert res.returncode == 0, res.stderr[-3000:]
    for what in ("dump/test (mel)", "exp/units_mfcc_k8 (k-means)", "dump/test (units)"):
        assert f"Stage 2: {what}: done" in res.stderr
    assert "extract_units" not in res.stderr
    assert (dump / "test" / "units.scp").stat().st_mtime_ns == first

    # other options: a k-means model of their own, and every set's units again
    res = _run(recipe, root, "--unit_type", "logmel", "--unit_k", "6")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stage 2: exp/units_logmel_k6 (k-means): new" in res.stderr
    assert "Stage 2: dump/test (units): new" in res.stderr
    assert _key(dump / "test" / ".done.units")["option unit_type"] == "logmel"
    assert (recipe / "exp" / "units_logmel_k6" / "kmeans.npz").is_file()
    assert max(np.concatenate(list(read_scp(dump / "test" / "units.scp").values()))) < 6

    # back to the first options: their fitted model is reused, the units are made again
    fitted = (kmeans / "kmeans.npz").stat().st_mtime_ns
    res = _run(recipe, root, "--unit_type", "mfcc", "--unit_k", "8")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stage 2: exp/units_mfcc_k8 (k-means): done" in res.stderr
    assert "Stage 2: dump/test (units): redo, since" in res.stderr
    assert "option unit_type: logmel -> mfcc" in res.stderr
    assert (kmeans / "kmeans.npz").stat().st_mtime_ns == fitted
    again = read_scp(dump / "test" / "units.scp")
    assert again.keys() == mfcc_units.keys()
    assert all(np.array_equal(again[k], mfcc_units[k]) for k in mfcc_units)
    second = (dump / "test" / "units.scp").stat().st_mtime_ns

    # an edited mel setting remakes the mel of every set, and the units follow the new mel;
    # the face-track settings are the same, so no remaking of stage 1 is asked for
    frontend = recipe / "frontend mel.yaml"
    template = (root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml").read_text()
    frontend.write_text(template.replace("mel_tolerance: 3 ", "mel_tolerance: 5 "))
    res = _run(recipe, root, "--unit_type", "mfcc", "--unit_k", "8", frontend=frontend)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Stage 2: dump/test (mel): redo, since" in res.stderr
    assert "frontend: mel_tolerance: 3 -> 5" in res.stderr
    assert "Stage 2: exp/units_mfcc_k8 (k-means): redo, since" in res.stderr
    assert (kmeans / "kmeans.npz").stat().st_mtime_ns != fitted
    assert (dump / "test" / "units.scp").stat().st_mtime_ns != second
    assert yaml.safe_load((dump / "test" / "frontend.yaml").read_text())["mel_tolerance"] == 5

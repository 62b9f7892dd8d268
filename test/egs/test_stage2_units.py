"""Stage 2's optional units step through the stage script: one unit per mel frame in every set,
the k-means model under exp, and done markers that follow the unit options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table


def _stage2_output(mel_data_dir, dump: Path, num_utts: int, seed: int) -> None:
    """What stages 1-2 leave in dump/<set>: audio, mel features, utt2num_frames, done markers."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    wavs = {}
    for i in range(num_utts):
        wav = sum(
            np.sin(2 * np.pi * rng.uniform(100, 3000) * t) * (t > rng.uniform(0, 0.8)) for _ in range(4)
        )
        wavs[f"{dump.name}{i}"] = (0.2 * wav + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    mel_data_dir(dump, wavs)
    for step in ("stage1", "stage2"):
        (dump / f".done.{step}").write_text("test\n")


def _run(recipe: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
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
        str(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"),
    ]
    return subprocess.run([*cmd, *args], cwd=recipe, capture_output=True, text=True, timeout=300)


def test_stage2_writes_units_on_the_mel_frames_of_every_set(recipe, root, mel_data_dir):
    dump = recipe / "dump"
    _stage2_output(mel_data_dir, dump / "train", 5, 0)
    _stage2_output(mel_data_dir, dump / "test", 2, 1)

    res = _run(recipe, root)  # --unit_type none: nothing of units
    assert res.returncode == 0, res.stderr[-3000:]
    assert not list(dump.glob("*/units.scp")) and not list((recipe / "exp").glob("units_*"))

    res = _run(recipe, root, "--unit_type", "mfcc", "--unit_k", "8")
    assert res.returncode == 0, res.stderr[-3000:]
    for dset in ("train", "test"):
        units = read_scp(dump / dset / "units.scp")
        frames = read_table(dump / dset / "utt2num_frames")
        assert set(units) == set(frames)
        assert all(len(u) == int(frames[k]) and u.max() < 8 for k, u in units.items())
        assert len(list((dump / dset).glob(".done.units_mfcc_k8_*"))) == 1
    (model,) = (recipe / "exp").glob("units_mfcc_k8_*/kmeans.npz")
    first = (dump / "test" / "units.scp").stat().st_mtime_ns

    res = _run(recipe, root, "--unit_type", "mfcc", "--unit_k", "8")
    assert res.returncode == 0 and "units already done" in res.stderr
    assert (dump / "test" / "units.scp").stat().st_mtime_ns == first

    res = _run(recipe, root, "--unit_type", "logmel", "--unit_k", "6")  # other options: again
    assert res.returncode == 0, res.stderr[-3000:]
    assert [p.name.split("_")[1] for p in (dump / "test").glob(".done.units_*")] == ["logmel"]
    assert max(np.concatenate(list(read_scp(dump / "test" / "units.scp").values()))) < 6

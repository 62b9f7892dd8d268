"""Data preparation of the generated corpora: both GRID layouts, both protocols, VoxCeleb2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lipsound2.bin.prepare_corpus import main as prepare
from lipsound2.bin.prepare_corpus import si_speakers
from lipsound2.fileio.table import read_table


def _validate(root: Path, datadir: Path, *opts: str) -> None:
    proc = subprocess.run(
        [str(root / "utils" / "validate_data_dir.sh"), "--no-feats", *opts, str(datadir)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def _sets(datadir: Path, protocol: str) -> dict[str, dict[str, str]]:
    return {part: read_table(datadir / f"{part}_{protocol}" / "utt2spk") for part in ("train", "dev", "test")}


@pytest.mark.parametrize("layout", ["a", "b"])
def test_grid_speaker_dependent(layout, grid_a, grid_b, tmp_path, root):
    corpus = grid_a if layout == "a" else grid_b
    out = tmp_path / "data dir"
    assert (
        prepare(
            [
                "grid",
                "--grid_root",
                str(corpus),
                "--protocol",
                "sd",
                "--speakers",
                "s1 s2 s3",
                "--datadir",
                str(out),
            ]
        )
        == 0
    )
    sets = _sets(out, "sd")
    for part in sets:
        _validate(root, out / f"{part}_sd", *([] if layout == "a" else ["--no-wav"]))
        assert (out / f"{part}_sd" / "wav.scp").exists() == (layout == "a")
    # 3 utterances per speaker: 1 train, 1 dev, 1 test each; every speaker in every set
    assert [len(s) for s in sets.values()] == [3, 3, 3]
    assert all(set(s.values()) == {"s1", "s2", "s3"} for s in sets.values())
    utts = [set(s) for s in sets.values()]
    assert not (utts[0] & utts[1] or utts[0] & utts[2] or utts[1] & utts[2])
    text = read_table(out / "test_sd" / "text")
    video = read_table(out / "test_sd" / "video.scp")
    for utt, words in text.items():
        spk, name = utt.split("-", 1)
        assert len(words.split()) == 6
        assert Path(video[utt]).is_file() and Path(video[utt]).stem == name and " " in video[utt]
        assert Path(video[utt]).is_absolute()


def test_grid_speaker_dependent_shares_follow_the_paper(grid_a, tmp_path):
    """90:5:5 of each speaker's utterances (at least one each)."""
    out = tmp_path / "d"
    prepare(
        [
            "grid",
            "--grid_root",
            str(grid_a),
            "--protocol",
            "sd",
            "--dev_share",
            "0.34",
            "--test_share",
            "0.34",
            "--speakers",
            "s1",
            "--datadir",
            str(out),
        ]
    )
    assert [len(s) for s in _sets(out, "sd").values()] == [1, 1, 1]


@pytest.mark.parametrize("layout", ["a", "b"])
def test_grid_speaker_independent(layout, grid_a, grid_b, tmp_path, root):
    corpus = grid_a if layout == "a" else grid_b
    out = tmp_path / "d"
    assert prepare(["grid", "--grid_root", str(corpus), "--protocol", "si", "--datadir", str(out)]) == 0
    sets = _sets(out, "si")
    speakers = {part: set(s.values()) for part, s in sets.items()}
    assert speakers == {"train": {"s1"}, "dev": {"s2"}, "test": {"s3"}}
    assert all(len(s) == 3 for s in sets.values())
    for part in sets:
        _validate(root, out / f"{part}_si", *([] if layout == "a" else ["--no-wav"]))


def test_grid_speaker_independent_explicit_speakers(grid_a, tmp_path):
    out = tmp_path / "d"
    assert (
        prepare(
            [
                "grid",
                "--grid_root",
                str(grid_a),
                "--protocol",
                "si",
                "--si_test_speakers",
                "s1",
                "--si_dev_speakers",
                "s3",
                "--datadir",
                str(out),
            ]
        )
        == 0
    )
    speakers = {part: set(s.values()) for part, s in _sets(out, "si").items()}
    assert speakers == {"train": {"s2"}, "dev": {"s3"}, "test": {"s1"}}


def test_speaker_lists_may_be_comma_separated(grid_a, tmp_path):
    """A recipe's --local_data_opts string is word-split, so lists there are written with commas."""
    sd, si = tmp_path / "sd", tmp_path / "si"
    assert prepare(["grid", "--grid_root", str(grid_a), "--speakers", "s1,s3", "--datadir", str(sd)]) == 0
    assert set(_sets(sd, "sd")["train"].values()) == {"s1", "s3"}
    opts = ["--speakers", "s1,s2,s3", "--si_test_speakers", "s1,", "--si_dev_speakers", "s3"]
    assert prepare(["grid", "--grid_root", str(grid_a), "--protocol", "si", *opts, "--datadir", str(si)]) == 0
    speakers = {part: set(s.values()) for part, s in _sets(si, "si").items()}
    assert speakers == {"train": {"s2"}, "dev": {"s3"}, "test": {"s1"}}


def test_si_default_split_of_grid_33_speakers():
    speakers = [f"s{i}" for i in range(1, 35) if i != 21]
    train, dev, test = si_speakers(speakers, None, None)
    assert (len(train), len(dev), len(test)) == (15, 8, 10)
    assert not set(train) & set(test) and not set(dev) & set(test) and not set(train) & set(dev)


def test_missing_corpus_is_a_clear_error(tmp_path, caplog):
    assert (
        prepare(["grid", "--grid_root", str(tmp_path), "--speakers", "s1", "--datadir", str(tmp_path / "d")])
        == 1
    )
    assert "no such GRID speaker folder" in caplog.text


def test_voxceleb2(vox, tmp_path, root):
    """Dev and test together (3 speakers, 2 clips each); one speaker held out for validation."""
    out = tmp_path / "d"
    assert prepare(["voxceleb2", "--voxceleb2_root", str(vox), "--datadir", str(out)]) == 0
    speakers = {n: read_table(out / n / "utt2spk") for n in ("voxceleb2_train", "voxceleb2_valid")}
    assert [len(s) for s in speakers.values()] == [4, 2]
    assert [len(set(s.values())) for s in speakers.values()] == [2, 1]
    assert not set(speakers["voxceleb2_train"].values()) & set(speakers["voxceleb2_valid"].values())
    assert not (out / "voxceleb2_test").exists()
    for name in speakers:
        _validate(root, out / name, "--no-wav")
        assert read_table(out / name / "text")

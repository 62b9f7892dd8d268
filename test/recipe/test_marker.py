"""Done markers keyed on settings and inputs (lipsound2.recipe.marker and its command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipsound2.fileio.ark import ArkWriter
from lipsound2.recipe.marker import StepKey, check, conf_entries, mark, refresh, table_digest


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_conf_entries_are_the_content_not_the_layout(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b name.yaml"
    a.write_text("crop:\n  region: face  # the paper\n  size: 112\nmel:\n  n_mels: 80\n")
    b.write_text("# copied and reordered\nmel: {n_mels: 80}\ncrop: {size: 112, region: face}\n")
    assert conf_entries("frontend", a) == conf_entries("frontend", b)
    b.write_text("mel: {n_mels: 80}\ncrop: {size: 112, region: mouth}\n")
    assert conf_entries("frontend", a) != conf_entries("frontend", b)
    # a section the step does not read does not enter its key
    assert conf_entries("frontend", a, ["mel"]) == conf_entries("frontend", b, ["mel"])


def test_table_digest_follows_the_listed_files_and_ark_offsets(tmp_path):
    wav = tmp_path / "a b.wav"
    wav.write_bytes(b"x" * 10)
    table = tmp_path / "wav.scp"
    table.write_text(f"u1 {wav}\n")
    first = table_digest(table)
    assert first.startswith("1 entries, 0 missing files")
    _touch_later(wav)  # the same path, rewritten
    assert table_digest(table) != first
    # feats.scp values are ark:offset: the ark's rewrite changes the digest, its text does not
    feats = tmp_path / "feats.scp"
    for value in (0, 1):
        with ArkWriter(tmp_path / "feats.ark", feats) as writer:
            writer["u1"] = np.full((3, 2), value, np.float32)
        if value == 0:
            before = table_digest(feats)
    _touch_later(tmp_path / "feats.ark")
    assert feats.read_text() and table_digest(feats) != before
    wav.unlink()
    assert "1 missing files" in table_digest(table)
    (tmp_path / "feats.ark").unlink()  # its entries name it with an offset
    assert "1 missing files" in table_digest(feats)
    assert table_digest(tmp_path / "absent.scp") == "missing"


def test_corpus_digest_sees_a_clip_added_beside_the_listed_ones(tmp_path):
    clips = tmp_path / "corpus" / "s1"
    clips.mkdir(parents=True)
    (clips / "a.mpg").write_bytes(b"a")
    table = tmp_path / "video.scp"
    table.write_text(f"a {clips / 'a.mpg'}\n")
    before_table, before_corpus = table_digest(table), table_digest(table, listing_dirs=True)
    (clips / "b.mpg").write_bytes(b"b")
    os.utime(clips, ns=(0, clips.stat().st_mtime_ns + 1_000_000_000))
    assert table_digest(table) == before_table  # the listed file itself did not change
    assert table_digest(table, listing_dirs=True) != before_corpus


def _key(conf: Path, table: Path) -> dict[str, str]:
    return StepKey(confs=[("train", str(conf), None)], opts=[("seed", "0")], tables=[str(table)]).build()


def test_check_skips_the_same_key_and_redoes_a_changed_one(tmp_path):
    conf, table, out = tmp_path / "train.yaml", tmp_path / "feats.scp", tmp_path / "exp"
    conf.write_text("optim_conf: {lr: 0.001}\n")
    table.write_text("u1 x\n")
    assert check(out, "train", _key(conf, table)).state == "new"
    (out / "model.pth").write_bytes(b"m")
    mark(out, "train", _key(conf, table))
    assert check(out, "train", _key(conf, table), stale=[str(out / "*.pth")]).state == "done"
    assert (out / "model.pth").exists()
    conf.write_text("optim_conf: {lr: 0.002}\n")
    verdict = check(out, "train", _key(conf, table), stale=[str(out / "*.pth")])
    assert verdict.state == "redo"
    assert verdict.changes == ["train: optim_conf.lr: 0.001 -> 0.002"]
    assert verdict.removed == [str(out / "model.pth")] and not (out / "model.pth").exists()
    assert not (out / ".done.train").exists()


def test_an_interrupted_step_resumes_only_under_the_same_key(tmp_path):
    conf, table, out = tmp_path / "train.yaml", tmp_path / "feats.scp", tmp_path / "exp"
    conf.write_text("max_epoch: 3\n")
    table.write_text("u1 x\n")
    assert check(out, "train", _key(conf, table)).state == "new"
    (out / "checkpoint.pth").write_bytes(b"c")  # killed before mark
    assert check(out, "train", _key(conf, table), stale=[str(out / "*.pth")]).state == "resume"
    assert (out / "checkpoint.pth").exists()
    conf.write_text("max_epoch: 4\n")
    verdict = check(out, "train", _key(conf, table), stale=[str(out / "*.pth")])
    assert verdict.state == "redo" and verdict.changes == ["train: max_epoch: 3 -> 4"]
    assert not (out / "checkpoint.pth").exists()


def test_a_redo_of_a_step_keyed_on_its_own_outputs_resumes_after_a_kill(tmp_path):
    """Stage 1 keys on the tracks it made: its redo removes them, and a run killed during the
    redo must resume under the key it started with, not redo again."""
    conf, out = tmp_path / "crop.yaml", tmp_path / "dump"
    tracks = out / "video.scp"

    def key() -> dict:
        return StepKey(confs=[("crop", str(conf), None)], tables=[str(tracks)]).build()

    conf.write_text("margin: 0.1\n")
    assert check(out, "stage1", key()).state == "new"
    (out / "t1.mp4").write_bytes(b"track")
    tracks.write_text(f"u1 {out / 't1.mp4'}\n")
    mark(out, "stage1", key())
    conf.write_text("margin: 0.2\n")
    stale = [str(out / "*.mp4"), str(tracks)]
    verdict = check(out, "stage1", key(), stale=stale)
    assert verdict.state == "redo" and "crop: margin: 0.1 -> 0.2" in verdict.changes
    (out / "t2.mp4").write_bytes(b"half")  # killed before its tables were written
    assert check(out, "stage1", key(), stale=stale).state == "resume"
    assert (out / "t2.mp4").exists()


def test_refresh_records_tables_a_later_step_narrowed(tmp_path):
    """Stage 2 drops its rejects from stage 1's tables in place: stage 1 stays done."""
    conf, out = tmp_path / "crop.yaml", tmp_path / "dump"
    conf.write_text("margin: 0.1\n")
    tracks = out / "video.scp"
    out.mkdir()
    tracks.write_text("u1 a\nu2 b\n")

    def key() -> dict:
        return StepKey(confs=[("crop", str(conf), None)], tables=[str(tracks)]).build()

    mark(out, "stage1", key())
    tracks.write_text("u1 a\n")
    assert check(out, "stage1", key()).state == "redo"
    mark(out, "stage1", key())  # (the redo above removed nothing: mark it done again)
    tracks.write_text("u1 a\nu2 b\n")
    refresh(out, "stage1", StepKey(tables=[str(tracks)]).build())
    assert check(out, "stage1", key()).state == "done"
    refresh(tmp_path / "never ran", "stage1", key())
    assert not (tmp_path / "never ran").exists()


def test_a_marker_without_a_key_is_redone_once(tmp_path):
    (tmp_path / ".done.stage1").write_text("2026-11-30T10:00:00\n")  # the old kind: a date
    key = StepKey(opts=[("nj", "4")]).build()
    assert check(tmp_path, "stage1", key).state == "redo"
    mark(tmp_path, "stage1", key)
    assert check(tmp_path, "stage1", key).state == "done"


def test_the_command_logs_what_changed_and_exits_10_when_the_step_must_run(tmp_path):
    conf = tmp_path / "frontend.yaml"
    conf.write_text("crop: {region: face, size: 112}\nmel: {n_mels: 80}\n")
    args = ["--dir", str(tmp_path / "dump"), "--name", "stage1", "--stage", "1", "--what", "dump/train"]
    args += ["--conf", f"frontend={conf}", "--sections", "frontend=stage1"]

    def step(action: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "lipsound2.bin.step", action, *args]
        return subprocess.run(cmd, capture_output=True, text=True)

    assert step("check").returncode == 10
    assert step("mark").returncode == 0
    res = step("check")
    assert res.returncode == 0 and "Stage 1: dump/train: done" in res.stderr
    conf.write_text("crop: {region: face, size: 112}\nmel: {n_mels: 64}\n")
    assert step("check").returncode == 0  # stage 1 does not read the mel settings
    conf.write_text("crop: {region: mouth, size: 112}\nmel: {n_mels: 64}\n")
    res = step("check")
    assert res.returncode == 10
    assert "Stage 1: dump/train: redo" in res.stderr and 'crop.region: "face" -> "mouth"' in res.stderr
    conf.write_text("crop: [not, a, mapping\n")
    assert step("check").returncode == 2  # a broken config stops the stage script


def test_a_config_edited_while_the_step_runs_is_a_change_at_the_next_run(tmp_path):
    conf, table, out = tmp_path / "train.yaml", tmp_path / "feats.scp", tmp_path / "exp"
    conf.write_text("batch_size: 4\n")
    table.write_text("u1 x\n")
    assert check(out, "train", _key(conf, table)).state == "new"  # the step starts with 4
    conf.write_text("batch_size: 2\n")  # edited while it runs
    mark(out, "train", _key(conf, table))
    verdict = check(out, "train", _key(conf, table))
    assert verdict.state == "redo" and verdict.changes == ["train: batch_size: 4 -> 2"]


def test_a_missing_or_broken_config_stops_before_anything_is_removed(tmp_path):
    out = tmp_path / "dump"
    out.mkdir()
    (out / "video.scp").write_text("u1 x\n")
    with pytest.raises(ValueError, match="does not exist"):
        StepKey(confs=[("frontend", str(tmp_path / "typo.yaml"), None)]).build()
    unknown = tmp_path / "frontend.yaml"
    unknown.write_text("crop: {sise: 96}\n")
    with pytest.raises(ValueError, match="sise"):
        StepKey(confs=[("frontend", str(unknown), None)]).build()
    # a file the step only quotes (the report's configs) may be missing
    assert StepKey(quotes=[("asr", str(tmp_path / "none.yaml"))]).build() == {"asr: (file)": "missing"}


def test_the_front_end_is_keyed_with_its_defaults_filled_in(tmp_path):
    short, spelled = tmp_path / "a.yaml", tmp_path / "b.yaml"
    short.write_text("crop: {region: mouth}\n")
    spelled.write_text("crop: {region: mouth, margin: 0.0, size: 112}\nmel: {n_mels: 80}\n")
    assert conf_entries("frontend", short) == conf_entries("frontend", spelled)

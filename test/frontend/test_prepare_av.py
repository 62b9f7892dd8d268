"""Stage 1 and 2 jobs on real and deliberately broken media: rejects, outputs, kills, merging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

from lipsound2.bin import extract_mel, merge_jobs, prepare_av
from lipsound2.fileio.ark import load_array
from lipsound2.fileio.facetrack import read_face_track
from lipsound2.fileio.table import read_table, write_table
from lipsound2.frontend.decode import decode_audio
from lipsound2.frontend.mel import log_mel


@pytest.fixture(scope="module")
def stage1(tmp_path_factory, bad_media):
    """prepare_av over every bad and good file in one job, the data dir under a path with spaces."""
    root = tmp_path_factory.mktemp("stage one") / "my data"
    data = root / "data"
    write_table(data / "video.scp", {name: str(path) for name, (path, _) in bad_media.items()})
    write_table(data / "utt2spk", {name: "spk1" for name in bad_media})
    write_table(data / "text", {name: "bin blue at f two now" for name in bad_media})
    out = root / "job output"
    prepare_av.main(
        ["--video_scp", str(data / "video.scp"), "--media_dir", str(root / "media"), "--out_dir", str(out)]
    )
    return root, out


def test_every_bad_file_is_rejected_with_its_reason(stage1, bad_media):
    _, out = stage1
    rejects = read_table(out / "rejects")
    for name, (path, reason) in bad_media.items():
        if reason is None:
            assert name not in rejects, f"{name} ({path}) rejected: {rejects.get(name)}"
        else:
            assert name in rejects, f"{name} was accepted"
            assert reason in rejects[name], (name, rejects[name])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == sum(r is None for _, r in bad_media.values())
    assert summary["rejected"] == len(rejects) and summary["frames"] > 0


def test_accepted_utterances_have_tracks_audio_and_frame_counts(stage1, bad_media):
    _, out = stage1
    videos, wavs = read_table(out / "video.scp"), read_table(out / "wav.scp")
    nframes = read_table(out / "utt2num_vframes")
    assert set(videos) == set(wavs) == set(nframes) == {n for n, (_, r) in bad_media.items() if r is None}
    for utt in videos:
        track = read_face_track(videos[utt])
        assert track.shape == (int(nframes[utt]), 112, 112, 3)
        wav, sr = soundfile.read(wavs[utt], dtype="float32")
        assert sr == 16000 and wav.ndim == 1
        assert len(wav) == int(nframes[utt]) * 640  # trimmed/padded to the video exactly
    assert read_table(out / "utt2num_vframes")["fps30"] == "75"


def test_rerun_reuses_finished_tracks(stage1, tmp_path):
    root, out = stage1
    again = tmp_path / "again"
    prepare_av.main(
        [
            "--video_scp",
            str(root / "data" / "video.scp"),
            "--media_dir",
            str(root / "media"),
            "--out_dir",
            str(again),
        ]
    )
    summary = json.loads((again / "summary.json").read_text())
    assert summary["reused"] == summary["done"] > 0 and summary["frames"] == 0
    assert read_table(again / "video.scp") == read_table(out / "video.scp")


def test_merge_filters_the_data_dir_and_enforces_the_reject_share(stage1, bad_media, tmp_path):
    root, out = stage1
    dst = tmp_path / "dump set"
    args = ["--src_dir", str(root / "data"), "--dst_dir", str(dst), "--tables", "video.scp", "wav.scp"]
    args += ["utt2num_vframes"]
    accepted = {n for n, (_, r) in bad_media.items() if r is None}
    with pytest.raises(SystemExit) as failed:
        merge_jobs.main([*args, "--max_reject_share", "0.5", str(out)])
    assert failed.value.code == 1  # most of these files are broken
    with pytest.raises(SystemExit) as passed:
        merge_jobs.main([*args, "--max_reject_share", "0.9", str(out)])
    assert passed.value.code == 0
    assert set(read_table(dst / "text")) == set(read_table(dst / "utt2spk")) == accepted
    assert read_table(dst / "spk2utt") == {"spk1": " ".join(sorted(accepted))}
    assert set(read_table(dst / "rejects")) == set(bad_media) - accepted


def test_mel_job_checks_lengths_and_matches_the_audio(stage1, tmp_path):
    _, out = stage1
    vframes = read_table(out / "utt2num_vframes")
    wrong = dict(vframes, good_spaces="60")  # claims 60 video frames for a 75-frame clip
    write_table(tmp_path / "utt2num_vframes", wrong)
    job = tmp_path / "mel job"
    extract_mel.main(
        ["--wav_scp", str(out / "wav.scp"), "--utt2num_vframes", str(tmp_path / "utt2num_vframes")]
        + ["--ark", str(tmp_path / "feats dir" / "feats.1.ark"), "--out_dir", str(job)]
    )
    rejects = read_table(job / "rejects")
    assert list(rejects) == ["good_spaces"]
    assert "188 mel frames for 60 video frames" in rejects["good_spaces"]
    feats, counts = read_table(job / "feats.scp"), read_table(job / "utt2num_frames")
    assert set(feats) == set(counts) == set(vframes) - {"good_spaces"}
    wavs = read_table(out / "wav.scp")
    for utt, spec in feats.items():
        mel = load_array(spec)
        assert mel.dtype == np.float32 and mel.shape == (int(counts[utt]), 80)
        assert abs(len(mel) - 2.5 * int(vframes[utt])) <= 1
        np.testing.assert_allclose(mel, log_mel(decode_audio(wavs[utt])), atol=1e-4)
    # merged into the dir it read, as stage 2 does: the reject's transcript is kept for scoring
    dump = tmp_path / "dump set"
    write_table(dump / "wav.scp", wavs)
    write_table(dump / "text", {utt: f"words of {utt}" for utt in wavs})
    with pytest.raises(SystemExit) as merged:
        merge_jobs.main(["--src_dir", str(dump), "--dst_dir", str(dump), "--tables", "feats.scp",
                         "utt2num_frames", "--max_reject_share", "0.9", str(job)])  # fmt: skip
    assert merged.value.code == 0
    assert read_table(dump / "text.rejected") == {"good_spaces": "words of good_spaces"}
    assert "good_spaces" not in read_table(dump / "text")


def test_killed_job_leaves_only_complete_files(grid_clips, tmp_path):
    """SIGKILL mid-run: no job tables, no readable partial track; a re-run finishes the rest."""
    data = tmp_path / "data"
    write_table(data / "video.scp", {clip.stem: str(clip) for clip in grid_clips})
    media, out = tmp_path / "media", tmp_path / "out"
    cmd = [sys.executable, "-m", "lipsound2.bin.prepare_av", "--video_scp", str(data / "video.scp")]
    cmd += ["--media_dir", str(media), "--out_dir", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((media / "facetrack").glob("*.mp4"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sorted((media / "facetrack").glob("*.mp4"))
    assert 2 <= len(finished) < len(grid_clips), "the job was not killed half-way"
    assert not (out / "video.scp").exists() and not (out / "summary.json").exists()
    for path in finished:
        assert len(read_face_track(str(path))) == 75
    prepare_av.main(cmd[3:])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == len(grid_clips) and summary["reused"] >= len(finished) - 1
    assert all(len(read_face_track(v)) == 75 for v in read_table(out / "video.scp").values())

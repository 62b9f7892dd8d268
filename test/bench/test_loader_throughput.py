"""bench/loader_throughput.py: the prototype luma reader and the bench itself at tiny sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipsound2.fileio.facetrack import FaceTrackWriter, read_face_track
from lipsound2.fileio.gray import to_gray
from lipsound2_testing.bench import bench_module

ROOT = Path(__file__).resolve().parents[2]
loader_throughput = bench_module("loader_throughput")


def _face_like_track(frames: int = 10, size: int = 112) -> np.ndarray:
    """Smooth coloured gradients that move: what H.264 keeps well, like a face crop."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    track = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        track[t, ..., 0] = 128 + 100 * np.sin((x + 3 * t) / 17)
        track[t, ..., 1] = 128 + 90 * np.cos((y - 2 * t) / 23)
        track[t, ..., 2] = 60 + (x + y) / 4
    return track


@pytest.mark.parametrize("gray", [False, True])
def test_the_luma_reader_gives_the_gray_pixels_of_the_rgb_path(tmp_path: Path, gray: bool):
    track = _face_like_track()
    if gray:
        track = to_gray(track)
    writer = FaceTrackWriter(tmp_path, "mp4", crf=14, preset="veryfast")
    writer.write("utt", track)
    spec = writer.close()["utt"]
    luma = loader_throughput.read_luma(spec)
    via_rgb = read_face_track(spec, gray=True)
    assert luma.shape == via_rgb.shape == track.shape[:3] and luma.dtype == np.uint8
    diff = np.abs(luma.astype(int) - via_rgb.astype(int))
    assert diff.mean() < 1.5 and diff.max() <= 8, (diff.mean(), diff.max())
    # against what was stored, the luma reader is no further off than the RGB path
    lossless = track if gray else to_gray(track)
    assert np.abs(luma.astype(int) - lossless).mean() <= np.abs(via_rgb.astype(int) - lossless).mean() + 0.5


def test_the_luma_loader_type_is_found_before_face_track(tmp_path: Path):
    from espnet2.train.dataset import ESPnetDataset

    writer = FaceTrackWriter(tmp_path, "mp4", crf=14, preset="veryfast")
    writer.write("utt", _face_like_track())
    scp = tmp_path / "video.scp"
    scp.write_text(f"utt {writer.close()['utt']}\n")
    loader_throughput.register_luma_type()
    loader_throughput.register_luma_type()  # idempotent
    luma = ESPnetDataset([(str(scp), "video", "face_track_luma")])
    plain = ESPnetDataset([(str(scp), "video", "face_track")])
    assert type(luma.loader_dict["video"]).__name__ == "LumaReader"
    assert type(plain.loader_dict["video"]).__name__ == "FaceTrackReader"
    assert luma.loader_dict["video"]["utt"].shape == (10, 112, 112)  # ESPnet casts after the preprocessor


def test_the_bench_runs_through_the_training_data_path(tmp_path: Path, grid_clips: list[Path]):
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "bench" / "loader_throughput.py"), *map(str, grid_clips[:2]),
           "--formats", "ark_gray", "mp4_luma", "--utts", "4", "--batch_size", "2", "--workers", "1",
           "--work_dir", str(tmp_path / "work"), "--out_dir", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    rows = {row["name"]: row for row in results["rows"]}
    assert sorted(rows) == ["ark_gray", "mp4_luma"]
    assert results["batch_shape"] == [2, 75, 112, 112, 1]
    for row in rows.values():
        assert row["utterances"] == 4 and row["utt_per_worker_cpu_s"] > 0 and row["workers_needed"] >= 1
        assert row["peak_rss_mib"] > 0 and row["bytes_per_utt"] > 0
    assert rows["ark_gray"]["input_diff"] == 0  # the gray ark holds the crop's own gray levels
    assert rows["ark_gray"]["bytes_per_utt"] > 75 * 112 * 112  # raw uint8
    assert rows["mp4_luma"]["input_diff"] < 3
    assert "| storage |" in (out / "results.md").read_text()

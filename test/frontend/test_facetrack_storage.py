"""Face-track storage: mp4 and ark writers read back through the shared read_face_track."""

from __future__ import annotations

import numpy as np
import pytest

from lipsound2.fileio.facetrack import FaceTrackWriter, read_face_track
from lipsound2.frontend.crop import CropConfig, crop_frames
from lipsound2.frontend.decode import decode_video
from lipsound2.frontend.track import track_face


@pytest.fixture(scope="module")
def crops(grid_clip, detector) -> np.ndarray:
    frames = decode_video(str(grid_clip)).frames
    return crop_frames(frames, track_face(frames, detector, every=5).landmarks, CropConfig())


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_mp4_track_is_small_and_faithful(crops, tmp_path):
    writer = FaceTrackWriter(tmp_path / "tracks dir", "mp4", crf=14, preset="veryfast")
    writer.write("utt1", crops)
    specs = writer.close()
    path = specs["utt1"]
    assert path.endswith("utt1.mp4") and " " in path
    back = read_face_track(path)
    assert back.shape == crops.shape and back.dtype == np.uint8
    size = (tmp_path / "tracks dir" / "utt1.mp4").stat().st_size
    assert size / len(crops) < 2048  # the 2 KB per frame target
    # 4:2:0 chroma costs colour detail; the luma, where the lip shapes are, stays close.
    assert _psnr(back, crops) > 33
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    assert _psnr(back.astype(np.float32) @ luma, crops.astype(np.float32) @ luma) > 37
    assert not list((tmp_path / "tracks dir").glob(".*tmp*"))


def test_gray_mp4_reads_back_as_one_channel(crops, tmp_path):
    gray = (crops.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    writer = FaceTrackWriter(tmp_path, "mp4")
    writer.write("g", gray)
    back = read_face_track(writer.close()["g"])
    assert back.shape == gray.shape
    assert _psnr(back, gray) > 38
    assert np.abs(back.astype(int).mean() - gray.astype(int).mean()) < 1.0  # no level shift


def test_ark_tracks_are_exact_and_only_appear_when_closed(crops, tmp_path):
    writer = FaceTrackWriter(tmp_path, "ark", tag="3")
    writer.write("a", crops)
    writer.write("b", crops[:10, ..., 0])
    assert not (tmp_path / "facetrack.3.ark").exists()
    specs = writer.close()
    assert (tmp_path / "facetrack.3.ark").is_file()
    assert np.array_equal(read_face_track(specs["a"]), crops)
    assert np.array_equal(read_face_track(specs["b"]), crops[:10, ..., 0])
    assert read_face_track(specs["a"], gray=True).shape == crops.shape[:3]


def test_aborted_ark_leaves_nothing(crops, tmp_path):
    writer = FaceTrackWriter(tmp_path, "ark")
    writer.write("a", crops)
    writer.abort()
    assert list(tmp_path.iterdir()) == []

"""The front end on a user's video: no audio track, large frames, a phone's display rotation."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from lipsound2.frontend.config import FrontendConfig
from lipsound2.frontend.crop import crop_frames
from lipsound2.frontend.decode import decode_video
from lipsound2.frontend.detect import Detection, FaceDetector
from lipsound2.frontend.pipeline import prepare, prepare_video
from lipsound2.frontend.track import track_face


class SeenSizes:
    """The real detector, recording the size of every frame it is given."""

    def __init__(self, detector: FaceDetector) -> None:
        self.detector = detector
        self.sizes: set[tuple[int, int]] = set()

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        self.sizes.add(frame.shape[:2])
        return self.detector(frame)


def test_a_video_without_audio_gives_the_tracks_of_stage_one(grid_clip, tmp_path, ffmpeg, detector):
    silent = tmp_path / "no audio.mkv"
    ffmpeg("-i", str(grid_clip), "-an", "-c:v", "copy", str(silent))
    config = FrontendConfig()
    face = prepare_video(str(silent), config, detector)
    stage1 = prepare(str(grid_clip), None, config, detector)
    assert face.crops.shape == (75, 112, 112, 3) and not face.resampled
    np.testing.assert_array_equal(face.crops, stage1.crops)
    np.testing.assert_array_equal(face.track.landmarks, stage1.track.landmarks)


@pytest.fixture(scope="module")
def large_clip(grid_clip, tmp_path_factory, ffmpeg) -> Path:
    """One second of GRID at 1440x1152, four times the detector's 640 px input (odd path)."""
    path = tmp_path_factory.mktemp("large frames") / "big clip.mp4"
    ffmpeg("-i", str(grid_clip), "-t", "1", "-vf", "scale=1440:1152", "-c:v", "libx264", "-crf", "12",
           "-an", str(path))  # fmt: skip
    return path


def test_large_frames_are_tracked_small_and_cropped_at_full_resolution(large_clip, detector):
    config = FrontendConfig()
    seen = SeenSizes(detector)
    tracemalloc.start()
    try:
        face = prepare_video(str(large_clip), config, seen)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full = decode_video(str(large_clip)).frames
    assert full.shape == (25, 1152, 1440, 3) and face.crops.shape == (25, 112, 112, 3)
    assert seen.sizes == {(512, 640)}
    # Held whole, the full frames alone take 124 MB; the detector's copies take 25 MB.
    assert peak < 0.4 * full.nbytes, peak
    # The same track as the detector finds on the full frames (which it downscales itself),
    # and the crops of those full frames.
    d, t = config.detector, config.track
    reference = track_face(full, detector, d.every, d.refine_motion, t.smooth_window)
    np.testing.assert_allclose(face.track.landmarks, reference.landmarks, atol=0.01)
    crops = crop_frames(full, face.track.landmarks, config.crop)
    assert np.abs(face.crops.astype(int) - crops).max() == 0


def test_a_phone_video_is_turned_upright_as_players_show_it(grid_clip, tmp_path, ffmpeg, detector):
    """A clip stored sideways with a display rotation (as phones record portrait video) decodes
    as ffmpeg shows it, and its face is found."""
    sideways = tmp_path / "sideways.mp4"
    ffmpeg("-i", str(grid_clip), "-t", "1", "-vf", "transpose=clock", "-c:v", "libx264", "-crf", "12",
           "-an", str(sideways))  # fmt: skip
    phone = tmp_path / "phone.mp4"
    ffmpeg("-i", str(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(phone))
    upright = tmp_path / "upright.raw"
    ffmpeg("-i", str(phone), "-f", "rawvideo", "-pix_fmt", "rgb24", str(upright))
    video = decode_video(str(phone))
    assert video.frames.shape == (25, 288, 360, 3)
    shown = np.fromfile(upright, np.uint8).reshape(video.frames.shape)
    np.testing.assert_array_equal(video.frames, shown)
    original = decode_video(str(grid_clip)).frames[:25].astype(float)
    assert np.abs(video.frames - original).mean() < 3  # upright: the clip as recorded
    face = prepare_video(str(phone), FrontendConfig(), detector)
    assert face.track.found.all()

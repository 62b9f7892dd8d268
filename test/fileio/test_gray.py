"""A gray face is the same pixels whichever step made it gray: the crop at stage 1, the
face-track reader, or the model's preprocessing of an RGB track."""

from __future__ import annotations

import numpy as np
import pytest

from lipsound2.fileio.facetrack import FaceTrackWriter, read_face_track
from lipsound2.fileio.gray import to_gray
from lipsound2.frontend.crop import CropConfig, crop_frames
from lipsound2.tasks.preprocess import FaceTrackPreprocessor


@pytest.fixture
def rgb() -> np.ndarray:
    """Four 64x64 RGB frames of smooth colour ramps plus noise (every luma level's rounding)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 64)
    base = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[::-1][None, :]), axis=-1)
    noisy = base[None] + rng.normal(0, 20, (4, 64, 64, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def test_known_levels():
    assert to_gray(
        np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    ).tolist() == [
        255,
        0,
        76,  # 0.299 * 255 = 76.2
        150,  # 0.587 * 255 = 149.7
        29,  # 0.114 * 255 = 29.1
    ]
    with pytest.raises(ValueError, match="uint8 RGB"):
        to_gray(np.zeros((4, 4, 3), np.float32))


def test_crop_reader_and_preprocessor_agree(rgb, tmp_path):
    expected = to_gray(rgb)
    # stage 1: a gray crop is the gray of the RGB crop (identity crop: landmarks of the frame)
    marks = np.tile(
        np.array([[20.0, 24.0], [44.0, 24.0], [32.0, 34.0], [22.0, 46.0], [42.0, 46.0]]), (4, 1, 1)
    )
    config = CropConfig(size=48, region="face", align=False)
    rgb_crops = crop_frames(rgb, marks, config)
    gray_crops = crop_frames(rgb, marks, CropConfig(size=48, region="face", align=False, gray=True))
    np.testing.assert_array_equal(gray_crops, to_gray(rgb_crops))
    # reading an RGB track gray, from an ark and from mp4
    writer = FaceTrackWriter(tmp_path / "ark", "ark")
    writer.write("u", rgb)
    (spec,) = writer.close().values()
    np.testing.assert_array_equal(read_face_track(spec, gray=True), expected)
    writer = FaceTrackWriter(tmp_path / "mp4", "mp4", crf=0)
    writer.write("u", rgb)
    (spec,) = writer.close().values()
    np.testing.assert_array_equal(
        read_face_track(spec, gray=True), to_gray(read_face_track(spec, gray=False))
    )
    # the model's input from an RGB track
    video = FaceTrackPreprocessor(train=False, channels=1)("u", {"video": rgb})["video"]
    assert video.dtype == np.float32
    np.testing.assert_array_equal(video[..., 0], expected.astype(np.float32))

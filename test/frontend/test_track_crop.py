"""Face detection, tracking and crops on the real GRID, LRS2 and VoxCeleb2 clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lipsound2.frontend.crop import CropConfig, apply_transform, crop_frames, crop_transforms
from lipsound2.frontend.decode import decode_video
from lipsound2.frontend.detect import build_detector
from lipsound2.frontend.track import TrackError, choose_face, face_size, smooth, track_face


def test_face_found_in_every_grid_frame_and_crops_hold_the_mouth(grid_clips, detector):
    for clip in grid_clips:
        frames = decode_video(str(clip)).frames
        raw = [detector(frame) for frame in frames]
        assert all(raw), f"{clip.name}: no face in frames {[i for i, r in enumerate(raw) if not r]}"
        track = track_face(frames, detector, every=5)
        assert track.found.all() and track.lost_share == 0
        for region in ("face", "mouth"):
            mats = crop_transforms(track.landmarks, CropConfig(region=region))
            for mat, faces in zip(mats, raw):
                # The raw (unsmoothed) mouth corners of this very frame fall inside the 112x112 crop.
                mouth = apply_transform(faces[0].landmarks[3:5], mat)
                assert np.all(mouth > 4) and np.all(mouth < 108), (clip.name, region, mouth)


def test_key_frame_track_stays_close_to_every_frame_track(grid_clips, detector):
    frames = decode_video(str(grid_clips[1])).frames
    every = track_face(frames, detector, every=1)
    fast = track_face(frames, detector, every=5)
    assert fast.detected.sum() < 0.4 * len(frames) < every.detected.sum()
    dist = np.abs(fast.landmarks - every.landmarks).max(axis=(1, 2)) / face_size(every.landmarks)
    assert dist.max() < 0.05


def test_crop_shapes_and_options(grid_clip, detector):
    frames = decode_video(str(grid_clip)).frames[:10]
    track = track_face(frames, detector, every=1)
    assert crop_frames(frames, track.landmarks, CropConfig()).shape == (10, 112, 112, 3)
    gray = crop_frames(frames, track.landmarks, CropConfig(size=88, gray=True, region="mouth"))
    assert gray.shape == (10, 88, 88) and gray.dtype == np.uint8
    wide = crop_transforms(track.landmarks, CropConfig(margin=0.5))[0, 0, 0]
    assert np.isclose(crop_transforms(track.landmarks, CropConfig())[0, 0, 0] / wide, 1.5, atol=0.01)
    with pytest.raises(ValueError, match="crop region"):
        CropConfig(region="ear")


def test_main_face_is_the_larger_one_and_stays_chosen(grid_clips, detector):
    """Two real faces side by side: the track follows the larger and its crop shows that face."""
    big = decode_video(str(grid_clips[0])).frames[:8]
    small = decode_video(str(grid_clips[1])).frames[:8]
    small = np.stack([cv2.resize(f, (180, 144)) for f in small])
    canvas = np.zeros((8, 288, 540, 3), np.uint8)
    canvas[:, :, :360] = big
    canvas[:, 72:216, 360:] = small
    faces = detector(canvas[0])
    assert len(faces) == 2
    main = choose_face(faces, None, canvas.shape[1:])
    assert main.box[0] < 300  # the big face on the left
    track = track_face(canvas, detector, every=1)
    assert np.all(track.landmarks[:, :, 0] < 360)
    # The crop of the composite equals the crop of the big face alone.
    alone = track_face(big, detector, every=1)
    np.testing.assert_allclose(track.landmarks, alone.landmarks, atol=1.0)


def test_short_blank_gap_is_filled_long_loss_is_rejected(grid_clip):
    detector = build_detector("retinaface", max_side=192)  # quicker; the logic under test is the track
    frames = decode_video(str(grid_clip)).frames.copy()
    frames[30:35] = 0
    track = track_face(frames, detector, every=1, smooth_window=1)
    assert not track.found[30:35].any() and track.found[:30].all() and track.found[35:].all()
    # Filled by interpolation between the last and first frames that saw the face.
    w = (32 - 29) / (35 - 29)
    expected = (1 - w) * track.landmarks[29] + w * track.landmarks[35]
    np.testing.assert_allclose(track.landmarks[32], expected, atol=1e-6)
    with pytest.raises(TrackError, match="face lost for 5 consecutive frames"):
        track_face(frames, detector, every=1, max_gap=4)
    frames[10:60] = 0
    with pytest.raises(TrackError, match="face lost in 50 of 75 frames"):
        track_face(frames, detector, every=5)
    with pytest.raises(TrackError, match="no face found"):
        track_face(np.zeros_like(frames), detector, every=5)


def test_smoothing_removes_jitter_but_keeps_motion():
    rng = np.random.default_rng(0)
    t = np.arange(100)[:, None, None]
    motion = np.broadcast_to(t * 0.5, (100, 5, 2)).astype(float)
    noisy = motion + rng.normal(0, 2.0, motion.shape)
    out = smooth(noisy, 5)
    assert np.std(out[5:-5] - motion[5:-5]) < 0.6 * np.std(noisy - motion)
    assert abs(np.mean(out[5:-5] - motion[5:-5])) < 0.2  # centred window: no lag


def test_downscaled_detection_maps_back_to_frame_coordinates(grid_clip):
    frame = decode_video(str(grid_clip)).frames[20]
    full = build_detector("retinaface", max_side=0)(frame)[0]
    small = build_detector("retinaface", max_side=300)(frame)[0]
    assert np.abs(full.landmarks - small.landmarks).max() < 0.1 * face_size(full.landmarks)
    assert np.abs(full.box - small.box).max() < 0.1 * (full.box[2] - full.box[0])
    with pytest.raises(ValueError, match="unknown face detector"):
        build_detector("mtcnn")

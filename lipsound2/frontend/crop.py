"""Crops of the face or mouth region from smoothed five-point landmarks.

The crop is a square centred on the region, its side proportional to the eye-to-mouth
distance (which barely changes with mouth opening), optionally rotated so the eyes are level,
and resampled to ``size`` x ``size`` with one affine warp per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from lipsound2.fileio.gray import to_gray
from lipsound2.frontend.config import CROP_REGIONS, CropConfig
from lipsound2.frontend.track import face_size


def crop_transforms(landmarks: np.ndarray, config: CropConfig) -> np.ndarray:
    """Affine matrices ``(T, 2, 3)`` mapping frame pixels to crop pixels."""
    side_factor, position = CROP_REGIONS[config.region]
    eyes = landmarks[:, 0:2].mean(axis=1)
    mouth = landmarks[:, 3:5].mean(axis=1)
    centre = eyes + position * (mouth - eyes)
    side = side_factor * (1.0 + config.margin) * face_size(landmarks)
    scale = config.size / np.maximum(side, 1e-3)
    if config.align:
        d = landmarks[:, 1] - landmarks[:, 0]  # right eye (image left) to left eye
        angle = np.arctan2(d[:, 1], d[:, 0])
    else:
        angle = np.zeros(len(landmarks))
    cos, sin = np.cos(-angle) * scale, np.sin(-angle) * scale
    half = config.size / 2.0
    mats = np.empty((len(landmarks), 2, 3))
    mats[:, 0, 0], mats[:, 0, 1] = cos, -sin
    mats[:, 1, 0], mats[:, 1, 1] = sin, cos
    mats[:, 0, 2] = half - (cos * centre[:, 0] - sin * centre[:, 1])
    mats[:, 1, 2] = half - (sin * centre[:, 0] + cos * centre[:, 1])
    return mats


def apply_transform(points: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Map points ``(..., 2)`` with one affine matrix ``(2, 3)``."""
    return points @ mat[:, :2].T + mat[:, 2]


def crop_shape(num_frames: int, config: CropConfig) -> tuple[int, ...]:
    """Shape of the crops of ``num_frames`` frames."""
    return (num_frames, config.size, config.size) + (() if config.gray else (3,))


def crop_frame(frame: np.ndarray, mat: np.ndarray, config: CropConfig) -> np.ndarray:
    """One frame's crop with its matrix from :func:`crop_transforms`; pixels outside the frame
    repeat the border."""
    size = (config.size, config.size)
    crop = cv2.warpAffine(frame, mat, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return to_gray(crop) if config.gray else crop


def crop_frames(frames: np.ndarray, landmarks: np.ndarray, config: CropConfig) -> np.ndarray:
    """Crops ``uint8 (T, size, size[, 3])``; pixels outside the frame repeat the border."""
    mats = crop_transforms(landmarks, config)
    out = np.empty(crop_shape(len(frames), config), np.uint8)
    for i, (frame, mat) in enumerate(zip(frames, mats)):
        out[i] = crop_frame(frame, mat, config)
    return out

"""Face tracks: one face followed through a clip, its landmarks filled in and smoothed.

Detection runs on every ``every``-th frame (key frames). Between two key frames that both
found the face and agree (landmarks moved less than ``refine_motion`` face sizes), the
landmarks are interpolated linearly; otherwise every frame in between is detected as well.
So slow faces cost one detection per ``every`` frames and fast or uncertain stretches fall
back to per-frame detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lipsound2.frontend.detect import Detection, FaceDetector


class TrackError(ValueError):
    """No usable face track; the message says why (one line)."""


@dataclass
class FaceTrack:
    """``landmarks`` float (T, 5, 2) after filling and smoothing; ``found`` bool (T,) before filling;
    ``detected`` bool (T,): frames the detector ran on."""

    landmarks: np.ndarray
    found: np.ndarray
    detected: np.ndarray

    @property
    def lost_share(self) -> float:
        return float(1.0 - self.found.mean())


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def choose_face(
    faces: list[Detection], previous: Detection | None, frame_shape: tuple[int, ...]
) -> Detection | None:
    """The main face: the one overlapping the previous choice most, else the largest and most central."""
    if not faces:
        return None
    if previous is not None:
        best = max(faces, key=lambda f: _iou(f.box, previous.box))
        if _iou(best.box, previous.box) > 0.2:
            return best
    height, width = frame_shape[:2]
    centre = np.array([width / 2, height / 2])
    diag = float(np.hypot(width, height))

    def rank(face: Detection) -> float:
        face_centre = (face.box[:2] + face.box[2:]) / 2
        return face.area * face.score * (1.0 - np.linalg.norm(face_centre - centre) / diag)

    return max(faces, key=rank)


def face_size(landmarks: np.ndarray) -> np.ndarray:
    """A scale per frame: distance from the eye centre to the mouth centre, in pixels."""
    eyes = landmarks[..., 0:2, :].mean(axis=-2)
    mouth = landmarks[..., 3:5, :].mean(axis=-2)
    return np.linalg.norm(mouth - eyes, axis=-1)


def detect_landmarks(
    frames: np.ndarray, detector: FaceDetector, every: int = 1, refine_motion: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmarks ``(T, 5, 2)`` (NaN where no face), ``found`` and ``detected`` masks."""
    total = len(frames)
    marks = np.full((total, 5, 2), np.nan)
    found = np.zeros(total, bool)
    detected = np.zeros(total, bool)
    chosen: list[Detection | None] = [None] * total

    def run(i: int, previous: Detection | None) -> Detection | None:
        face = choose_face(detector(frames[i]), previous, frames.shape[1:])
        detected[i] = True
        chosen[i] = face
        if face is not None:
            marks[i] = face.landmarks
            found[i] = True
        return face

    every = max(1, int(every))
    keys = list(range(0, total, every))
    if keys[-1] != total - 1:
        keys.append(total - 1)
    previous = None
    for i in keys:
        previous = run(i, previous) or previous
    for a, b in zip(keys[:-1], keys[1:]):
        if b - a < 2:
            continue
        if found[a] and found[b]:
            motion = np.abs(marks[b] - marks[a]).max() / max(1.0, face_size(marks[a]))
            if motion <= refine_motion:
                w = (np.arange(a + 1, b) - a)[:, None, None] / (b - a)
                marks[a + 1 : b] = (1 - w) * marks[a] + w * marks[b]
                found[a + 1 : b] = True
                continue
        previous = chosen[a] or chosen[b]
        for i in range(a + 1, b):
            previous = run(i, previous) or previous
    return marks, found, detected


def fill_gaps(marks: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Linear interpolation over missing frames; the ends hold the nearest found frame."""
    if not found.any():
        raise TrackError("no face found in any frame")
    idx = np.flatnonzero(found)
    flat = marks.reshape(len(marks), -1).copy()
    t = np.arange(len(marks))
    for col in range(flat.shape[1]):
        flat[:, col] = np.interp(t, idx, flat[idx, col])
    return flat.reshape(marks.shape)


def longest_gap(found: np.ndarray) -> int:
    """Longest run of frames without a face."""
    longest = run = 0
    for ok in found:
        run = 0 if ok else run + 1
        longest = max(longest, run)
    return longest


def smooth(marks: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over time (edges reflected), so the crop does not jitter."""
    if window <= 1 or len(marks) < 2:
        return marks
    half = window // 2
    padded = np.concatenate([marks[1 : half + 1][::-1], marks, marks[-half - 1 : -1][::-1]])
    if len(padded) < len(marks) + 2 * half:  # clip shorter than the window: pad with the edges
        padded = np.concatenate([np.repeat(marks[:1], half, 0), marks, np.repeat(marks[-1:], half, 0)])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(flat[:, c], kernel, mode="valid") for c in range(flat.shape[1])], axis=1)
    return out.reshape(marks.shape)


def track_face(
    frames: np.ndarray,
    detector: FaceDetector,
    every: int = 1,
    refine_motion: float = 0.1,
    smooth_window: int = 5,
    max_lost_share: float = 0.2,
    max_gap: int = 25,
) -> FaceTrack:
    """Detect, choose, fill and smooth one face track; :class:`TrackError` when the face is lost."""
    marks, found, detected = detect_landmarks(frames, detector, every, refine_motion)
    total = len(frames)
    if not found.any():
        raise TrackError(f"no face found in any of {total} frames")
    lost = int(total - found.sum())
    if lost > max_lost_share * total:
        raise TrackError(f"face lost in {lost} of {total} frames (more than {max_lost_share:.0%})")
    gap = longest_gap(found)
    if gap > max_gap:
        raise TrackError(f"face lost for {gap} consecutive frames (more than {max_gap})")
    filled = fill_gaps(marks, found)
    return FaceTrack(smooth(filled, smooth_window), found, detected)

"""Checks of a generated corpus with the real front-end face detector (RetinaFace MobileNet-0.25)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class DetectionStats:
    frames: int = 0
    detected: int = 0
    min_score: float = 1.0

    @property
    def rate(self) -> float:
        return self.detected / self.frames if self.frames else 0.0


def read_rgb_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of a video file as RGB uint8 arrays."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if not out:
        raise ValueError(f"{path}: no frames decoded")
    return out


def detection_stats(videos: Iterable[str | os.PathLike], score_threshold: float = 0.9) -> DetectionStats:
    """Share of frames in which RetinaFace finds a face at ``score_threshold`` (its default)."""
    import retinaface  # the front end's detector; imported here because loading it takes a while

    stats = DetectionStats()
    for video in videos:
        for frame in read_rgb_frames(video):
            faces = retinaface.detect_faces(frame, score_threshold=score_threshold)
            stats.frames += 1
            if faces:
                stats.detected += 1
                stats.min_score = min(stats.min_score, max(f.score for f in faces))
            else:
                stats.min_score = 0.0
    return stats

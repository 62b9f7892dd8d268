"""Face tracks: the cropped face video of one utterance, as ``uint8 (T, H, W[, C])``.

A ``video.scp`` value is either a media file (mp4/avi/mkv/mpg, decoded with PyAV) or an
ark entry (``file.ark:offset``) holding the array.
"""

from __future__ import annotations

import numpy as np

from lipsound2.fileio.ark import load_array

MEDIA_SUFFIXES = (".mp4", ".avi", ".mkv", ".mpg", ".mov", ".webm")


def read_face_track(spec: str, gray: bool | None = None) -> np.ndarray:
    """Load a face track; ``gray`` forces one channel (True) or RGB (False), None keeps it."""
    spec = spec.strip()
    if spec.lower().endswith(MEDIA_SUFFIXES):
        import av

        with av.open(spec) as container:
            fmt = "gray" if gray else "rgb24"
            frames = [f.to_ndarray(format=fmt) for f in container.decode(video=0)]
        if not frames:
            raise ValueError(f"{spec}: no video frames")
        array = np.stack(frames)
        if gray is None and array.ndim == 4 and _is_gray(array):
            array = array[..., 0]
        return array
    array = load_array(spec)
    if gray and array.ndim == 4:
        array = (array.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    return array


def _is_gray(rgb: np.ndarray) -> bool:
    sample = rgb[:: max(1, len(rgb) // 4)]
    r, g, b = sample[..., 0], sample[..., 1], sample[..., 2]
    return bool(np.array_equal(r, g) and np.array_equal(g, b))

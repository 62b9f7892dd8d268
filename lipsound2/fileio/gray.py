"""The one RGB -> gray conversion, shared by cropping, face-track reading and the model's input.

A track stored gray at stage 1 and an RGB track converted when it is read or fed to the
model must give the model the same pixels, so all three use :func:`to_gray`. It lives with
the readers and writers because the face-track format stores gray pixels (reading an RGB track
as gray is part of reading it), and so the front end and the readers both import it downward.
"""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights (those of OpenCV, PIL and H.264's Y plane)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_gray(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(..., 3)`` -> uint8 gray ``(...)``, rounded to the nearest level."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim < 1 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB frames (..., 3), got {frames.dtype} {frames.shape}")
    return (frames.astype(np.float32) @ LUMA + 0.5).astype(np.uint8)

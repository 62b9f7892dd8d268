"""Turns one loaded example into what the model takes (runs in ESPnet's data loader)."""

from __future__ import annotations

import numpy as np

from lipsound2.fileio.gray import to_gray
from lipsound2.tasks.ranks import distributed_rank


class FaceTrackPreprocessor:
    """uint8 face track -> float32 ``(T, H, W, channels)`` pixel values in [0, 255].

    ESPnet's dataset accepts only float and int arrays, so the cast happens here. In
    training, each utterance is mirrored left-right with ``hflip_prob`` (section IV-C-3).
    ``blank_video`` replaces every frame by ``blank_value`` for the no-visual-information
    baseline; the lengths stay, so the baseline trains and decodes exactly like the model.

    The flips are drawn from a generator of this process seeded from NumPy's global state
    (which ESPnet seeds per epoch and loader worker, alike on every rank) and the distributed
    rank, so that the ranks of a multi-GPU training flip differently.
    """

    def __init__(
        self,
        train: bool,
        channels: int = 1,
        hflip_prob: float = 0.5,
        blank_video: bool = False,
        blank_value: float = 128.0,
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.train = train
        self.channels = channels
        self.hflip_prob = hflip_prob
        self.blank_video = blank_video
        self.blank_value = blank_value
        self.rank = distributed_rank()
        self._rng: np.random.Generator | None = None  # made on first use, in the loader's process

    def _flip(self) -> bool:
        if self._rng is None:
            self._rng = np.random.default_rng([int(np.random.randint(2**31)), self.rank])
        return bool(self._rng.random() < self.hflip_prob)

    def __call__(self, uid: str, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "video" not in data:
            return data
        video = np.asarray(data["video"])
        if video.ndim == 3:
            video = video[..., None]
        if video.ndim != 4 or video.shape[-1] not in (1, 3):
            raise ValueError(f"utterance {uid}: face track must be (T, H, W[, 1|3]), got {video.shape}")
        if video.shape[-1] == 3 and self.channels == 1:
            video = to_gray(video)[..., None]
        video = video.astype(np.float32)
        if video.shape[-1] == 1 and self.channels == 3:
            video = np.repeat(video, 3, axis=-1)
        if self.blank_video:
            video = np.full_like(video, self.blank_value)
        elif self.train and self.hflip_prob > 0 and self._flip():
            video = video[:, :, ::-1]
        data = dict(data)
        data["video"] = np.ascontiguousarray(video)
        return data

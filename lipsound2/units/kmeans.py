"""The k-means model that turns frame features into units: fitted once on a seeded sample of
training frames, saved as an ``.npz`` of centroids, applied to every set.

Features are standardised per dimension with the sample's mean and deviation before clustering
(MFCC's c0 and the log-mel's low bands would otherwise dominate the distances); the model keeps
both, so applying it needs nothing else. Fitting is scikit-learn's ``MiniBatchKMeans`` with
``random_state=seed``: the same sample and seed give the same centroids.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from lipsound2.fileio.atomic import atomic_path


@dataclass
class UnitModel:
    """``centroids`` ``(k, dim)`` in standardised space; ``info`` what made them (saved too)."""

    mean: np.ndarray
    std: np.ndarray
    centroids: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.centroids)

    def assign(self, feats: np.ndarray) -> np.ndarray:
        """The nearest centroid of each frame: int32 ``(frames,)``."""
        if feats.ndim != 2 or feats.shape[1] != self.centroids.shape[1]:
            raise ValueError(
                f"features of shape {feats.shape} for centroids of dim {self.centroids.shape[1]}"
            )
        z = (feats.astype(np.float64) - self.mean) / self.std
        dist = (z**2).sum(1, keepdims=True) - 2 * z @ self.centroids.T + (self.centroids**2).sum(1)
        return dist.argmin(1).astype(np.int32)

    def save(self, path: str | os.PathLike) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                mean=self.mean,
                std=self.std,
                centroids=self.centroids,
                info=np.array(json.dumps(self.info)),
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> UnitModel:
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["mean"], z["std"], z["centroids"], json.loads(str(z["info"])))
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a k-means unit model ({exc})") from exc


def sample_frames(feature_arrays: Iterable[np.ndarray], max_frames: int, seed: int) -> np.ndarray:
    """All frames of ``feature_arrays``, or ``max_frames`` of them drawn without replacement
    with ``seed`` (kept in their order)."""
    frames = np.concatenate(list(feature_arrays))
    if len(frames) > max_frames:
        keep = np.random.default_rng(seed).choice(len(frames), max_frames, replace=False)
        frames = frames[np.sort(keep)]
    return frames


def fit(frames: np.ndarray, k: int, seed: int, info: dict | None = None) -> UnitModel:
    """k-means with ``k`` clusters over ``frames`` ``(n, dim)``, deterministic for ``seed``."""
    if len(frames) < k:
        raise ValueError(f"{len(frames)} training frames are too few for k={k} clusters")
    x = frames.astype(np.float64)
    mean = x.mean(0)
    std = np.maximum(x.std(0), 1e-5)
    km = MiniBatchKMeans(
        n_clusters=k, random_state=seed, n_init=3, batch_size=4096, max_iter=100, max_no_improvement=20
    )
    km.fit((x - mean) / std)
    return UnitModel(mean, std, km.cluster_centers_, dict(info or {}, k=k, seed=seed, fit_frames=len(frames)))

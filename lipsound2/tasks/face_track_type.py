"""The ``face_track`` data type for ESPnet's dataset: ``video.scp`` entries read with
:func:`lipsound2.fileio.facetrack.read_face_track` (mp4/avi/mpg media or ark entries).

ESPnet looks loader types up in ``espnet2.train.dataset.DATA_TYPES`` (name -> loader
factory); :func:`register` adds ours there, so ``--train_data_path_and_name_and_type
dump/train/video.scp,video,face_track`` works in any process that imported the task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import numpy as np
from espnet2.train import dataset

from lipsound2.fileio.facetrack import face_track_length, read_face_track
from lipsound2.fileio.table import read_table

TYPE_NAME = "face_track"
T = TypeVar("T")


class FaceTrackReader(Mapping):
    """Lazy ``utt -> uint8 (T, H, W[, C])`` mapping over a ``video.scp``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.table = read_table(path)

    def _read(self, key: str, read: Callable[[str], T], what: str) -> T:
        """``read`` of the track's scp value; an error names the scp file, utterance and track."""
        spec = self.table[key]
        try:
            return read(spec)
        except Exception as exc:
            raise RuntimeError(f"{self.path}: utterance {key}: cannot read {what} {spec!r}: {exc}") from exc

    def __getitem__(self, key: str) -> np.ndarray:
        return self._read(key, read_face_track, "face track")

    def num_frames(self, key: str) -> int:
        """Frames of one track from its header, without decoding it."""
        return self._read(key, face_track_length, "the header of face track")

    def __contains__(self, key: object) -> bool:
        return key in self.table  # without reading the track, as Mapping's default would

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


def register() -> None:
    """Add the ``face_track`` type to ESPnet's table of loaders (idempotent)."""
    dataset.DATA_TYPES.setdefault(
        TYPE_NAME,
        dict(
            func=FaceTrackReader,
            kwargs=[],
            help="Face tracks (uint8 frames) from media files or ark entries:\n\n"
            "   utterance_id_a /some/where/a.mp4\n"
            "   utterance_id_b /some/where/faces.ark:123\n",
        ),
    )

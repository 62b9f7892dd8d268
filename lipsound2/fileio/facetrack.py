"""Face tracks: the cropped face video of one utterance, as ``uint8 (T, H, W[, C])``.

A ``video.scp`` value is either a media file (mp4/avi/mkv/mpg, decoded with PyAV) or an
ark entry (``file.ark:offset``) holding the array.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipsound2.fileio.ark import ArkWriter, array_length, load_array
from lipsound2.fileio.atomic import atomic_path, temp_name
from lipsound2.fileio.gray import to_gray
from lipsound2.fileio.table import read_table

MEDIA_SUFFIXES = (".mp4", ".avi", ".mkv", ".mpg", ".mov", ".webm")


def read_face_track(spec: str, gray: bool | None = None) -> np.ndarray:
    """Load a face track; ``gray`` forces one channel (True) or RGB (False), None keeps it."""
    spec = spec.strip()
    if spec.lower().endswith(MEDIA_SUFFIXES):
        import av

        with av.open(spec) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        if not frames:
            raise ValueError(f"{spec}: no video frames")
        array = np.stack(frames)
        if gray is None and _is_gray(array):
            return array[..., 0]
    else:
        array = load_array(spec)
    if gray and array.ndim == 4:
        array = to_gray(array)
    return array


def face_track_length(spec: str) -> int:
    """Frames of a face track, from the container or the ark entry's header, without decoding.

    For media, the frame count the container declares, else its video packets counted (read,
    not decoded). The count is what the file says; what decodes may differ by a frame or so.
    """
    spec = spec.strip()
    if not spec.lower().endswith(MEDIA_SUFFIXES):
        return array_length(spec)
    import av

    with av.open(spec) as container:
        stream = container.streams.video[0]
        if stream.frames > 0:
            return int(stream.frames)
        return sum(1 for packet in container.demux(stream) if packet.size)


def _is_gray(rgb: np.ndarray) -> bool:
    sample = rgb[:: max(1, len(rgb) // 4)]
    r, g, b = sample[..., 0], sample[..., 1], sample[..., 2]
    return bool(np.array_equal(r, g) and np.array_equal(g, b))


class FaceTrackWriter:
    """Write face tracks as cropped mp4 files (``fmt="mp4"``) or uint8 arrays in one ark (``"ark"``).

    mp4: one H.264 file per utterance, ``<out_dir>/<utt>.mp4``, written under a temporary name
    and renamed when complete; ``crf`` sets the quality (lower: larger and better). Gray tracks
    are stored with neutral chroma. ark: ``<out_dir>/facetrack.<tag>.ark`` through
    :class:`~lipsound2.fileio.ark.ArkWriter` (renamed into place by :meth:`close`).
    :meth:`close` returns the ``video.scp`` values.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        fmt: str = "mp4",
        fps: float = 25.0,
        crf: int = 20,
        preset: str = "medium",
        tag: str = "1",
    ) -> None:
        if fmt not in ("mp4", "ark"):
            raise ValueError(f"face track format must be mp4 or ark, not {fmt!r}")
        self.out_dir = Path(out_dir).absolute()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.fmt, self.fps, self.crf, self.preset = fmt, fps, crf, preset
        self._ark: ArkWriter | None = None
        self._ark_path = self.out_dir / f"facetrack.{tag}.ark"
        self._ark_scp = temp_name(self.out_dir / f"facetrack.{tag}.scp")
        self._specs: dict[str, str] = {}

    def write(self, utt: str, frames: np.ndarray) -> None:
        frames = np.asarray(frames, dtype=np.uint8)
        if self.fmt == "ark":
            if self._ark is None:
                self._ark = ArkWriter(self._ark_path, self._ark_scp)
            self._ark[utt] = frames
            return
        path = self.out_dir / f"{utt}.mp4"
        with atomic_path(path) as tmp:
            encode_mp4(tmp, frames, self.fps, self.crf, self.preset)
        self._specs[utt] = str(path)

    def close(self) -> dict[str, str]:
        """Finish writing; returns the ``video.scp`` value of every track written."""
        if self._ark is not None:
            self._ark.close()
            self._specs.update(read_table(self._ark_scp))
            self._ark_scp.unlink()
            self._ark = None
        return dict(self._specs)

    def abort(self) -> None:
        """Drop an unfinished ark (mp4 files already renamed into place are complete)."""
        if self._ark is not None:
            self._ark.abort()
            self._ark = None


def encode_mp4(
    path: str | os.PathLike, frames: np.ndarray, fps: float = 25.0, crf: int = 20, preset: str = "medium"
) -> None:
    """Encode ``uint8 (T, H, W[, 3])`` frames losslessly in time (one packet per frame) as H.264 mp4."""
    import av

    gray = frames.ndim == 3
    height, width = frames.shape[1:3]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.thread_type = "NONE"
        stream.codec_context.thread_count = 1
        in_fmt = "gray" if gray else "rgb24"
        for i, frame in enumerate(frames):
            # Explicit conversion: it maps full-range gray/RGB to the limited-range YUV that
            # decoders assume (letting the encoder take gray as-is shifts the levels).
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=in_fmt).reformat(
                format="yuv420p"
            )
            vf.pts = i
            container.mux(stream.encode(vf))
        container.mux(stream.encode(None))

"""Decoding media with PyAV: video to a constant frame rate, audio to mono at the front end's
rate (16 kHz by default).

Every failure raises :class:`MediaError` with a message meant for a ``rejects`` file, so the
caller can name the utterance and go on with the next one.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
import soundfile
import soxr

from lipsound2.frontend.config import AudioConfig, VideoConfig


class MediaError(ValueError):
    """A media file that cannot be used; the message says why (one line)."""


@dataclass
class Video:
    """Frames ``uint8 (T, H, W, 3)`` RGB at ``fps``; ``source_fps`` is the stream's nominal rate;
    ``resampled`` tells that the source had another rate or irregular timestamps."""

    frames: np.ndarray
    fps: float
    source_fps: float
    resampled: bool


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _open(path: str) -> av.container.InputContainer:
    try:
        return av.open(path, metadata_errors="ignore")
    except FileNotFoundError as exc:
        raise MediaError(f"file not found: {path}") from exc
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"unreadable media ({_one_line(exc)})") from exc


FrameTransform = Callable[[np.ndarray], np.ndarray]


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """RGB pixels as the video is meant to be shown: a phone's portrait clip is stored
    sideways with a display rotation, which players (and ffmpeg) apply."""
    pixels = frame.to_ndarray(format="rgb24")
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


class VideoFrames:
    """The first video stream of a file, open for decoding; iterating yields ``(frame, time)``
    in presentation order: upright RGB ``uint8 (H, W, 3)`` and the start time in seconds.

    With ``resample=False`` a stream whose nominal rate (``source_fps``) differs from ``fps``
    by more than ``tolerance`` is refused. A container that declares its frame count (mp4,
    mkv) and yields fewer frames is refused as truncated, after the frames it did yield.
    """

    def __init__(
        self, path: str, fps: float = VideoConfig.fps, resample: bool = True, tolerance: float = 0.01
    ) -> None:
        self.fps = fps
        self._container = _open(path)
        try:
            if not self._container.streams.video:
                raise MediaError("no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.codec_context.thread_count = 1  # one thread per job: parallelism comes from --nj
            rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
            self.source_fps = float(rate) if rate else 0.0
            if not resample and abs(self.source_fps - fps) > tolerance * fps:
                raise MediaError(f"frame rate {self.source_fps:g} fps, not {fps:g} (resampling is disabled)")
        except BaseException:
            self._container.close()
            raise

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *exc) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        declared, count = self._stream.frames, 0
        try:
            for frame in self._container.decode(self._stream):
                time = frame.time if frame.time is not None else count / (self.source_fps or self.fps)
                count += 1
                yield _upright(frame), time
        except (av.FFmpegError, OSError) as exc:
            if not count:
                raise MediaError(f"video cannot be decoded ({_one_line(exc)})") from exc
            raise MediaError(f"video broken after {count} frames ({_one_line(exc)})") from exc
        if not count:
            raise MediaError("zero-length video (no frames decoded)")
        if declared and count < declared * 0.98 - 1:
            raise MediaError(f"truncated video: {count} of {declared} declared frames decoded")


def read_frames(
    path: str,
    fps: float = VideoConfig.fps,
    resample: bool = True,
    tolerance: float = 0.01,
    transform: FrameTransform | None = None,
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Every frame (passed through ``transform`` as it is decoded, e.g. to keep a smaller copy),
    the frame times and the nominal rate; refusals as :class:`VideoFrames`."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    with VideoFrames(path, fps, resample, tolerance) as video:
        for frame, time in video:
            frames.append(frame if transform is None else transform(frame))
            times.append(time)
    return frames, np.asarray(times), video.source_fps


def decode_video(
    path: str, fps: float = VideoConfig.fps, resample: bool = True, tolerance: float = 0.01
) -> Video:
    """Decode the first video stream to RGB frames at a constant ``fps``.

    Frames are placed on the output grid by their timestamps (see :func:`constant_rate_slots`):
    a variable or different frame rate is thereby resampled, duplicating or dropping frames as
    the ``fps`` filter of ffmpeg does. Refusals as :class:`VideoFrames`.
    """
    frames, times, source_fps = read_frames(path, fps, resample, tolerance)
    sources, resampled = constant_rate_slots(times, fps, source_fps)
    return Video(np.stack([frames[i] for i in sources]), fps, source_fps, resampled)


def constant_rate_slots(times: np.ndarray, fps: float, source_fps: float) -> tuple[np.ndarray, bool]:
    """Which decoded frame (an index into ``times``) fills each slot of a constant ``fps`` grid,
    and whether that differs from taking the frames as they are.

    Each frame goes to the slot nearest its timestamp, the first frame to slot 0; a slot no
    frame lands on shows the last frame that starts at or before it.
    """
    order = np.argsort(times, kind="stable")
    times = times[order] - times[order[0]]
    frame_dur = 1.0 / source_fps if source_fps > 0 else 1.0 / fps
    total = max(1, int(round((times[-1] + frame_dur) * fps)))
    slots = np.clip(np.round(times * fps).astype(np.int64), 0, total - 1)
    pick = np.clip(np.searchsorted(slots, np.arange(total), side="right") - 1, 0, len(times) - 1)
    identity = total == len(times) and np.array_equal(pick, np.arange(total))
    resampled = not identity or abs(source_fps - fps) > 0.01 * fps
    return order[pick], resampled


def _resample_mono(chunks: list[np.ndarray], rate: int, sample_rate: int, quality: str) -> np.ndarray:
    wav = np.concatenate(chunks, axis=1).mean(axis=0).astype(np.float32)
    if rate != sample_rate:
        wav = soxr.resample(wav, rate, sample_rate, quality=quality).astype(np.float32)
    return wav


def decode_audio(
    path: str, sample_rate: int = AudioConfig.sample_rate, quality: str = AudioConfig.resample_quality
) -> np.ndarray:
    """Decode the first audio stream of a media file to mono float32 at ``sample_rate``.

    Channels are averaged; the rate is converted with soxr (``quality`` as soxr names it).
    """
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError("no audio stream")
        stream = container.streams.audio[0]
        # Planar float at the native rate; the rate change happens in soxr.
        converter = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        rate = stream.rate
        try:
            for frame in container.decode(stream):
                rate = frame.sample_rate
                for out in converter.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in converter.resample(None):
                chunks.append(out.to_ndarray())
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(f"audio cannot be decoded ({_one_line(exc)})") from exc
    if not chunks or sum(c.shape[1] for c in chunks) == 0:
        raise MediaError("zero-length audio (no samples decoded)")
    return _resample_mono(chunks, rate, sample_rate, quality)


def load_audio(
    spec: str, sample_rate: int = AudioConfig.sample_rate, quality: str = AudioConfig.resample_quality
) -> np.ndarray:
    """Audio from a ``wav.scp`` value: a file (any format PyAV reads) or a Kaldi pipe ``cmd |``."""
    spec = spec.strip()
    if not spec.endswith("|"):
        return decode_audio(spec, sample_rate, quality)
    proc = subprocess.run(spec[:-1], shell=True, capture_output=True, check=False)
    if proc.returncode != 0:
        err = " ".join(proc.stderr.decode(errors="replace").split())[-200:]
        raise MediaError(f"audio command failed with status {proc.returncode}: {err}")
    try:
        wav, rate = soundfile.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise MediaError(f"audio command gave no readable audio ({_one_line(exc)})") from exc
    if len(wav) == 0:
        raise MediaError("zero-length audio (no samples decoded)")
    return _resample_mono([wav.T], rate, sample_rate, quality)

"""Talking-face clips: mouth track from phone timings, head motion, blinks, lighting; ffmpeg muxing."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lipsound2.fileio.atomic import atomic_path
from lipsound2.fileio.wav import write_wav
from lipsound2.synthetic.face import FaceRenderer, Pose
from lipsound2.synthetic.visemes import mouth_track

FPS = 25


def _smooth_wave(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """A smooth random motion: two sinusoids of random frequency (0.15-0.9 Hz) and phase."""
    out = np.zeros_like(t)
    for _ in range(2):
        out += np.sin(2 * np.pi * rng.uniform(0.15, 0.9) * t + rng.uniform(0, 2 * np.pi))
    return amplitude * out / 2


def poses(rng: np.random.Generator, num_frames: int) -> list[Pose]:
    """Head motion, lighting drift and blinks of one clip."""
    t = np.arange(num_frames) / FPS
    dx, dy = _smooth_wave(rng, t, rng.uniform(2, 6)), _smooth_wave(rng, t, rng.uniform(1.5, 4))
    angle, scale = _smooth_wave(rng, t, rng.uniform(1, 4)), 1 + _smooth_wave(rng, t, 0.025)
    gain = rng.uniform(0.85, 1.12) + _smooth_wave(rng, t, 0.05)
    side = np.clip(rng.uniform(-0.8, 0.8) + _smooth_wave(rng, t, 0.25), -1, 1)
    blink = np.zeros(num_frames)
    frame = int(rng.integers(5, 40))
    while frame < num_frames:
        blink[frame : frame + 2] = 1.0
        frame += int(rng.integers(40, 110))
    return [
        Pose(
            dx=dx[i],
            dy=dy[i],
            angle=angle[i],
            scale=scale[i],
            gain=gain[i],
            side_light=side[i],
            blink=blink[i],
        )
        for i in range(num_frames)
    ]


def frames(
    renderer: FaceRenderer, phones: list[tuple[str, float, float]], num_frames: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """The RGB frames of a clip whose mouth follows ``phones`` (name, start s, end s)."""
    shapes = mouth_track(phones, num_frames, FPS)
    for shape, pose in zip(shapes, poses(rng, num_frames)):
        noise = rng.standard_normal((renderer.height, renderer.width, 1), dtype=np.float32) * 1.5
        yield renderer.frame(shape, pose, noise)


# Container settings: GRID's normal-quality release (MPEG-1 video, MPEG-1 layer II audio at
# 44.1 kHz stereo) and VoxCeleb2's distribution format (H.264 video, AAC 16 kHz mono).
CODECS = {
    "mpg": [
        "-c:v",
        "mpeg1video",
        "-q:v",
        "3",
        "-c:a",
        "mp2",
        "-ar",
        "44100",
        "-ac",
        "2",
        "-b:a",
        "192k",
        "-f",
        "mpeg",
    ],
    "mp4": [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-c:a",
        "aac",
        "-ar",
        "16000",
        "-ac",
        "1",
        "-b:a",
        "64k",
        "-f",
        "mp4",
    ],
}


def write_clip(
    path: Path, video: Iterator[np.ndarray], size: tuple[int, int], audio: np.ndarray, rate: int
) -> None:
    """Encode RGB frames and a mono waveform into ``path`` (format from its suffix), atomically.

    Bit-exact flags keep the output identical for identical input (no encoder version string).
    """
    kind = path.suffix.lstrip(".")
    width, height = size
    with tempfile.TemporaryDirectory(prefix="clip") as tmp, atomic_path(path) as out:
        wav = os.path.join(tmp, "audio.wav")
        write_wav(wav, audio, rate)
        cmd = [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(FPS),
            "-i",
            "-",
            "-i",
            wav,
            *CODECS[kind],
            "-fflags",
            "+bitexact",
            "-flags",
            "+bitexact",
            "-map_metadata",
            "-1",
            str(out),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in video:
                proc.stdin.write(frame.tobytes())
        finally:
            proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            code = proc.wait()
        if code != 0:
            raise RuntimeError(f"ffmpeg failed writing {path}: {err[-500:]}")

"""Front-end fixtures: real clips and deliberately broken media made from them with ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lipsound2.frontend.config import FrontendConfig
from lipsound2.frontend.detect import FaceDetector
from lipsound2.frontend.pipeline import make_detector


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="session")
def ffmpeg():
    """Run the ffmpeg command line (skips when it is not installed)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    return _ffmpeg


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    """The default detector as the default config builds it."""
    return make_detector(FrontendConfig())


@pytest.fixture(scope="session")
def grid_clip(grid_clips: list[Path]) -> Path:
    return grid_clips[0]


@pytest.fixture(scope="session")
def vox_clip(realdata: Path) -> Path:
    return realdata / "VoxCeleb2_PC-AVS_misc" / "00010.mp4"


@pytest.fixture(scope="session")
def bad_media(
    tmp_path_factory, ffmpeg, grid_clip: Path, vox_clip: Path
) -> dict[str, tuple[Path, str | None]]:
    """Name -> (media path, expected reject reason fragment or None when it must be accepted)."""
    d = tmp_path_factory.mktemp("bad media") / "dir with spaces"
    d.mkdir()
    media: dict[str, tuple[Path, str | None]] = {}

    good = d / "good clip.mpg"
    shutil.copy(grid_clip, good)
    media["good_spaces"] = (good, None)

    faststart = d / "faststart.mp4"
    ffmpeg("-i", str(vox_clip), "-c", "copy", "-movflags", "+faststart", str(faststart))
    data = faststart.read_bytes()
    truncated = d / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    media["truncated"] = (truncated, "truncated video")

    cut = d / "cut early.mpg"
    cut.write_bytes(grid_clip.read_bytes()[:3000])
    media["cut_early"] = (cut, "")  # any reason: unreadable or no frames

    audio_only = d / "audio_only.mkv"
    ffmpeg("-i", str(grid_clip), "-vn", "-c:a", "copy", str(audio_only))
    media["audio_only"] = (audio_only, "no video stream")

    video_only = d / "video_only.mkv"
    ffmpeg("-i", str(grid_clip), "-an", "-c:v", "copy", str(video_only))
    media["video_only"] = (video_only, "no audio stream")

    blank = d / "blank.mkv"
    ffmpeg("-i", str(grid_clip), "-vf", "drawbox=c=black:t=fill", "-c:v", "mpeg4", "-c:a", "copy", str(blank))
    media["blank"] = (blank, "no face found")

    half_blank = d / "half blank.mkv"
    vf = "drawbox=c=black:t=fill:enable='gte(t,1.4)'"
    ffmpeg("-i", str(grid_clip), "-vf", vf, "-c:v", "mpeg4", "-q:v", "2", "-c:a", "copy", str(half_blank))
    media["face_lost"] = (half_blank, "face lost in")

    short_audio = d / "short_audio.mkv"
    ffmpeg("-i", str(grid_clip), "-c:v", "copy", "-af", "atrim=0:2", "-c:a", "pcm_s16le", str(short_audio))
    media["av_mismatch"] = (short_audio, "differ by more than")

    silent = d / "silent.mkv"
    ffmpeg("-i", str(grid_clip), "-c:v", "copy", "-af", "volume=0", "-c:a", "pcm_s16le", str(silent))
    media["silent"] = (silent, "silent audio")

    fps30 = d / "fps30.mkv"
    ffmpeg("-i", str(grid_clip), "-r", "30", "-c:v", "mpeg4", "-q:v", "2", "-c:a", "copy", str(fps30))
    media["fps30"] = (fps30, None)

    odd = d / "odd size.mkv"
    ffmpeg("-i", str(grid_clip), "-vf", "scale=359:287", "-c:v", "ffv1", "-c:a", "copy", str(odd))
    media["odd_size"] = (odd, None)

    tiny = d / "tiny.mkv"
    ffmpeg("-i", str(grid_clip), "-vf", "scale=40:32", "-c:v", "ffv1", "-c:a", "copy", str(tiny))
    media["tiny"] = (tiny, "smaller than")

    empty = d / "empty.mp4"
    empty.write_bytes(b"")
    media["zero_length"] = (empty, "unreadable media")

    text = d / "not media.mp4"
    text.write_text("this is not a video\n")
    media["not_media"] = (text, "unreadable media")

    media["missing"] = (d / "no such file.mp4", "file not found")
    return media

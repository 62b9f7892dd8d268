"""``lipsound2-speak`` on real clips of three corpora and on bad inputs, as a person runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from lipsound2.frontend.pipeline import make_detector, prepare_video
from lipsound2.inference import Video2Speech
from lipsound2.inference.video_speaker import VideoSpeaker, fit_length

ROOT = Path(__file__).resolve().parents[2]


def video_seconds(path: Path) -> float:
    """The duration of a file's video stream as its container states it."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / av.time_base


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def write_faceless(path: Path, seconds: float = 2.0) -> None:
    """A clip of drifting colour gradients: video, but no face in it."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 160, 160, "yuv420p"
        ramp = np.linspace(0, 255, 160)
        for i in range(int(seconds * 25)):
            frame = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], np.full((1, 1), 4.0 * i)), -1)
            frame = (frame + rng.normal(0, 3, frame.shape)).clip(0, 255).astype(np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))


def write_truncated(source: Path, path: Path) -> None:
    """``source`` with its index moved to the front (as web videos are), then cut in half."""
    whole = path.with_name("whole.mp4")
    ffmpeg("-i", str(source), "-c", "copy", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    whole.unlink()


@pytest.fixture(scope="module")
def clips(realdata: Path) -> dict[str, Path]:
    """A real clip per corpus: LRS2 160 px (4.8 s), VoxCeleb2 format 224 px (4.24 s), GRID 360x288 (3 s)."""
    clips = {
        "lrs2": realdata / "LRS2_smeetrs_deep_avsr" / "00001.mp4",
        "vox": realdata / "VoxCeleb2_PC-AVS_misc" / "00010.mp4",
        "grid": realdata / "GRID_s1" / "s1" / "bbaf2n.mpg",
    }
    if any(not clip.is_file() for clip in clips.values()):
        pytest.skip("real LRS2, VoxCeleb2-format or GRID s1 clips missing")
    return clips


def test_real_clips_get_wavs_and_each_bad_input_one_error_line(clips, tiny_pack, tmp_path):
    """One call with good and bad inputs: a wav of the video's duration for every good one, one
    error line naming the file for each bad one, exit status 1."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    bad = tmp_path / "bad inputs"
    bad.mkdir()
    faceless, truncated, text = bad / "no face.mp4", bad / "truncated.mp4", bad / "notes.mp4"
    write_faceless(faceless)
    write_truncated(clips["lrs2"].with_name("00002.mp4"), truncated)
    text.write_text("this is a text file, not a video\n")
    fps30 = tmp_path / "thirty fps.mkv"  # another frame rate, stereo sound (not used)
    ffmpeg("-i", str(clips["grid"]), "-r", "30", "-c:v", "mpeg4", "-q:v", "2", "-c:a", "copy", str(fps30))
    clips = {**clips, "fps30": fps30}
    same_name = bad / "00010.mp4"  # a second input whose wav would overwrite the VoxCeleb2 clip's
    same_name.write_bytes(clips["vox"].read_bytes())
    out = tmp_path / "out dir"
    inputs = [clips["lrs2"], faceless, clips["vox"], truncated, text, clips["grid"], fps30, same_name]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lipsound2.bin.speak", *map(str, inputs), "--model", str(tiny_pack)]
    proc = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    expected = {
        faceless: "no face found in any of 50 frames",
        truncated: "truncated video",
        text: "unreadable media",
        same_name: "is already written for",
    }
    assert len(errors) == len(expected), proc.stderr
    for path, reason in expected.items():
        assert any(str(path) in line and reason in line for line in errors), (path, proc.stderr)
    assert "4 of 8 videos failed" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["00001.wav", "00010.wav", "bbaf2n.wav", "thirty fps.wav"]
    for name in ("lrs2", "vox", "grid", "fps30"):
        wav, rate = soundfile.read(out / f"{clips[name].stem}.wav")
        assert rate == 16000 and np.abs(wav).max() > 0
        assert abs(len(wav) / rate - video_seconds(clips[name])) <= 0.04, name  # within a frame
        line = next(x for x in proc.stdout.splitlines() if x.startswith(str(clips[name])))
        assert "real-time factor" in line
    # the two clips longer than the 3 s window were decoded in two windows, GRID's in one
    assert "(2 windows)" in proc.stdout.split(str(clips["lrs2"]))[1].splitlines()[0]
    assert "(1 window)" in proc.stdout.split(str(clips["grid"]))[1].splitlines()[0]


def test_a_clip_within_the_window_gets_the_models_own_speech(clips, tiny_pack):
    """No windowing below the window length: the wav is the network and vocoder of the whole track,
    padded to the video's duration."""
    v2s = Video2Speech.from_pretrained(tiny_pack)
    spoken = VideoSpeaker(v2s, window_s=3.0, overlap_s=0.5)(clips["grid"])
    track = prepare_video(str(clips["grid"]), v2s.frontend, make_detector(v2s.frontend)).crops
    direct = v2s(track, key="bbaf2n")
    assert spoken.windows == 1 and len(spoken.wav) == 75 * 640
    np.testing.assert_array_equal(spoken.wav, fit_length(direct.wav, 75 * 640, 0.0))


def test_loading_a_pack_does_not_import_the_training_task(tiny_pack):
    """ESPnet's task machinery takes seconds to import and its text front ends try to download
    data; a user's command needs neither."""
    code = (
        "import sys; from lipsound2.inference import Video2Speech; "
        f"Video2Speech.from_pretrained({str(tiny_pack)!r}); "
        "print(sorted(m for m in ('espnet2.tasks.abs_task', 'nltk') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"

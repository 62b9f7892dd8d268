"""Decoding real clips to 25 fps video and 16 kHz mono audio."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from lipsound2.frontend.decode import MediaError, decode_audio, decode_video, load_audio


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255**2 / mse))


def test_grid_clip_decodes_to_25fps_and_16k_mono(grid_clips):
    for clip in grid_clips[:3]:
        video = decode_video(str(clip))
        wav = decode_audio(str(clip))
        assert video.frames.shape == (75, 288, 360, 3)
        assert video.source_fps == 25 and not video.resampled
        assert wav.dtype == np.float32 and wav.ndim == 1
        # Audio and video lengths agree within one video frame (640 samples at 16 kHz).
        assert abs(len(wav) - 75 * 640) <= 640
        assert 0.01 < np.abs(wav).max() < 1.2  # clipped sources overshoot full scale after resampling


def test_resampled_audio_matches_ffmpeg(grid_clip, tmp_path, ffmpeg):
    """44.1 kHz stereo MPEG audio to 16 kHz mono agrees with ffmpeg's own conversion."""
    out = tmp_path / "ref.raw"
    ffmpeg("-i", str(grid_clip), "-ac", "1", "-ar", "16000", "-f", "f32le", str(out))
    ref = np.fromfile(out, np.float32)
    ours = decode_audio(str(grid_clip))
    n = min(len(ref), len(ours))
    assert abs(len(ref) - len(ours)) < 160
    # Same waveform up to the two resamplers' filters: near-perfect correlation, no time shift.
    corr = np.corrcoef(ref[:n], ours[:n])[0, 1]
    assert corr > 0.99, corr
    lag = np.argmax(np.correlate(ours[4000:12000], ref[4000 - 50 : 12000 + 50], mode="valid")) - 50
    assert abs(lag) <= 1


@pytest.mark.parametrize(
    "folder,name", [("LRS2_smeetrs_deep_avsr", "00001.mp4"), ("VoxCeleb2_PC-AVS_misc", "00010.mp4")]
)
def test_lrs2_and_voxceleb2_mp4_decode(realdata, folder, name):
    clip = realdata / folder / name
    with av.open(str(clip)) as c:
        declared = c.streams.video[0].frames
    video = decode_video(str(clip))
    wav = decode_audio(str(clip))
    assert video.fps == 25 and len(video.frames) == declared
    assert abs(len(wav) / 16000 - len(video.frames) / 25) < 0.1


def test_other_frame_rate_is_resampled_by_timestamp(grid_clip, tmp_path, ffmpeg):
    """A 30 fps re-encode comes back as the original 75 frames at 25 fps, frame for frame."""
    fps30 = tmp_path / "thirty.mkv"
    ffmpeg(
        "-i", str(grid_clip), "-r", "30", "-fps_mode", "cfr", "-c:v", "mpeg4", "-q:v", "2", "-an", str(fps30)
    )
    original = decode_video(str(grid_clip)).frames
    video = decode_video(str(fps30))
    assert video.source_fps == 30 and video.resampled
    assert video.frames.shape == original.shape
    same = [_psnr(a, b) for a, b in zip(video.frames, original)]
    assert np.median(same) > 30
    with pytest.raises(MediaError, match="frame rate 30 fps, not 25"):
        decode_video(str(fps30), resample=False)


def test_variable_frame_rate_fills_dropped_slots_with_the_previous_frame(grid_clip, tmp_path):
    """Frames written with gaps in their timestamps: each missing slot repeats the frame before."""
    original = decode_video(str(grid_clip)).frames[:40]
    kept = [i for i in range(40) if i % 3 != 1]
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 360, 288, "bgr0"
        stream.time_base = Fraction(1, 1000)
        for i in kept:
            frame = av.VideoFrame.from_ndarray(original[i], format="rgb24").reformat(format="bgr0")
            frame.pts, frame.time_base = i * 40, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    video = decode_video(str(path))
    assert len(video.frames) == 40 and video.resampled
    for j in range(40):
        source = j if j in kept else j - 1
        assert np.array_equal(video.frames[j], original[source]), j


def test_kaldi_pipe_in_wav_scp(grid_clip):
    wav = load_audio(f"ffmpeg -v error -i '{grid_clip}' -ac 2 -ar 22050 -f wav - |")
    assert abs(len(wav) - len(decode_audio(str(grid_clip)))) < 400
    with pytest.raises(MediaError, match="audio command failed"):
        load_audio("false |")


def test_missing_and_garbage_files_raise_media_error(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        decode_video(str(tmp_path / "absent.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match="unreadable media"):
        decode_video(str(junk))

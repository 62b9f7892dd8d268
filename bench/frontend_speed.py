"""Front-end speed on one core: decode + detect + smooth + crop + write, and mel extraction.

Runs the stage 1 pipeline on the given clips (default: the GRID clips in
``$LIPSOUND2_REALDATA``) with detection on every k-th frame (the configured default) and on
every frame (the peer), reporting frames per second per core for each step and end to end,
plus how far the k-th-frame track is from the every-frame track (landmark distance in
eye-to-mouth distances, crop-box IoU). Then mel extraction speed (frames and real-time factor).
Times are CPU seconds of this process (``time.process_time``), so "per core" figures hold on
a machine shared with other work. Run:
``OMP_NUM_THREADS=1 python bench/frontend_speed.py [--frontend_config conf.yaml] [clip ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from lipsound2.fileio.facetrack import FaceTrackWriter
from lipsound2.fileio.wav import write_wav
from lipsound2.frontend.config import FrontendConfig, load_config
from lipsound2.frontend.crop import crop_frames, crop_transforms
from lipsound2.frontend.decode import decode_audio, decode_video, load_audio
from lipsound2.frontend.mel import LogMel
from lipsound2.frontend.pipeline import make_detector, match_length
from lipsound2.frontend.track import face_size, fill_gaps, longest_gap, smooth, track_face


def crop_box_iou(a: np.ndarray, b: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """IoU of the (unrotated) square crop regions two landmark tracks give, per frame."""

    def boxes(marks: np.ndarray) -> np.ndarray:
        mats = crop_transforms(marks, dataclasses.replace(config.crop, align=False))
        scale = mats[:, 0, 0]
        x1, y1 = -mats[:, 0, 2] / scale, -mats[:, 1, 2] / scale
        side = config.crop.size / scale
        return np.stack([x1, y1, x1 + side, y1 + side], axis=1)

    ba, bb = boxes(a), boxes(b)
    lo, hi = np.maximum(ba[:, :2], bb[:, :2]), np.minimum(ba[:, 2:], bb[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(ba) + area(bb) - inter)


def run_pipeline(clips: list[Path], config: FrontendConfig, out_dir: Path) -> tuple[dict, list[np.ndarray]]:
    """Seconds per step and the smoothed landmarks of every clip."""
    detector = make_detector(config)
    detector(np.zeros((288, 360, 3), np.uint8))  # warm-up, not timed
    seconds: dict[str, float] = defaultdict(float)
    tracks = []
    storage = config.storage
    writer = FaceTrackWriter(
        out_dir / "facetrack", storage.format, config.video.fps, crf=storage.crf, preset=storage.preset
    )
    frames_total = 0
    for clip in clips:
        t0 = time.process_time()
        video = decode_video(str(clip), config.video.fps)
        t1 = time.process_time()
        wav = match_length(decode_audio(str(clip), config.audio.sample_rate), len(video.frames), config)
        t2 = time.process_time()
        d, t = config.detector, config.track
        track = track_face(video.frames, detector, d.every, d.refine_motion, 1, t.max_lost_share, t.max_gap)
        t3 = time.process_time()
        marks = smooth(fill_gaps(track.landmarks, track.found), t.smooth_window)
        t4 = time.process_time()
        crops = crop_frames(video.frames, marks, config.crop)
        t5 = time.process_time()
        writer.write(clip.stem, crops)
        write_wav(out_dir / f"{clip.stem}.wav", wav, config.audio.sample_rate)
        t6 = time.process_time()
        for name, dt in zip(
            ["decode video", "decode+resample audio", "detect", "smooth", "crop", "write"],
            [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5],
        ):
            seconds[name] += dt
        seconds["detector calls"] += int(track.detected.sum())
        frames_total += len(video.frames)
        tracks.append(marks)
        assert longest_gap(track.found) == 0 or not track.found.all()
    writer.close()
    seconds["frames"] = frames_total
    return seconds, tracks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--frontend_config", type=Path)
    parser.add_argument("--repeat", type=int, default=2, help="passes over the clips (the best counts)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = args.clips or sorted(
        (Path(os.environ["LIPSOUND2_REALDATA"]) / "GRID_rizkiarm_LipNet").glob("*.mpg")
    )
    config = load_config(args.frontend_config)
    peer = dataclasses.replace(config, detector=dataclasses.replace(config.detector, every=1))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in [(f"every {config.detector.every}th frame", config), ("every frame (peer)", peer)]:
            best = None
            for rep in range(args.repeat):
                out = Path(tmp) / f"{name[:7]}{rep}".replace(" ", "_")
                out.mkdir()
                seconds, tracks = run_pipeline(clips, cfg, out)
                total = sum(v for k, v in seconds.items() if k not in ("frames", "detector calls"))
                if best is None or total < best[0]:
                    best = (total, seconds, tracks)
            results[name] = best
    frames = results[next(iter(results))][1]["frames"]
    print(
        f"{len(clips)} clips, {frames} frames, CPU time of this process "
        f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})"
    )
    steps = ["decode video", "decode+resample audio", "detect", "smooth", "crop", "write"]
    print("| step | " + " | ".join(results) + " |")
    print("| --- |" + " --- |" * len(results))
    for step in steps:
        print(
            f"| {step} (frames/s) | "
            + " | ".join(f"{frames / r[1][step]:.0f}" for r in results.values())
            + " |"
        )
    print(
        "| detector calls | " + " | ".join(f"{r[1]['detector calls']:.0f}" for r in results.values()) + " |"
    )
    print(
        "| **end to end (frames/s)** | "
        + " | ".join(f"**{frames / r[0]:.0f}**" for r in results.values())
        + " |"
    )

    (_, _, fast), (_, _, full) = results.values()
    dist = np.concatenate([np.abs(a - b).max(axis=(1, 2)) / face_size(b) for a, b in zip(fast, full)])
    ious = np.concatenate([crop_box_iou(a, b, config) for a, b in zip(fast, full)])
    print(
        f"k-th-frame vs every-frame track: landmark distance / eye-mouth distance mean {dist.mean():.4f}, "
        f"max {dist.max():.4f}; crop IoU mean {ious.mean():.4f}, min {ious.min():.4f}"
    )

    mel = LogMel(config.mel)
    with tempfile.TemporaryDirectory() as tmp:
        wav_paths = []
        for clip in clips:
            path = Path(tmp) / f"{clip.stem}.wav"
            write_wav(path, decode_audio(str(clip), config.mel.sample_rate), config.mel.sample_rate)
            wav_paths.append(path)
        best_s, mel_frames, audio_s = float("inf"), 0, 0.0
        for _ in range(args.repeat):
            start = time.process_time()
            mel_frames, audio_s = 0, 0.0
            with torch.no_grad():
                for path in wav_paths:
                    wav = load_audio(str(path), config.mel.sample_rate)
                    mel_frames += len(mel(torch.from_numpy(wav)))
                    audio_s += len(wav) / config.mel.sample_rate
            best_s = min(best_s, time.process_time() - start)
    print(
        f"mel extraction (read wav + log-mel): {mel_frames / best_s:.0f} mel frames/s, "
        f"{audio_s / best_s:.0f}x real time, "
        f"{audio_s * config.video.fps / best_s:.0f} video-frame equivalents/s"
    )


if __name__ == "__main__":
    main()

"""Stage 1 job: face tracks and mono audio (``audio.sample_rate``) for the utterances of one
``video.scp``.

Writes the face tracks (mp4 files or an ark) and wav files under ``--media_dir`` and, in
``--out_dir``, this job's ``video.scp``, ``wav.scp``, ``utt2num_vframes``, ``rejects``
(``<utt> <reason>``) and ``summary.json``. A bad utterance is rejected with its reason and the
job goes on. mp4 tracks and wav files are renamed into place only when complete, so a re-run
after a kill reuses what a previous run finished (``--resume``); the tables are written last.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path

import av
from tqdm import tqdm

from lipsound2.fileio.facetrack import FaceTrackWriter
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import write_wav
from lipsound2.frontend.config import config_to_dict, load_config
from lipsound2.frontend.pipeline import make_detector, prepare
from lipsound2.recipe.jobs import start_job, write_job_outputs

log = logging.getLogger("prepare_av")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frontend_config", type=Path, help="front-end YAML (defaults when omitted)")
    parser.add_argument("--video_scp", type=Path, required=True, help="<utt> <media path> (this job's share)")
    parser.add_argument(
        "--wav_scp", type=Path, help="<utt> <audio path or 'cmd |'>; default: the video's audio"
    )
    parser.add_argument("--media_dir", type=Path, required=True, help="where face tracks and wav files go")
    parser.add_argument("--out_dir", type=Path, required=True, help="where this job's tables go")
    parser.add_argument("--job_tag", default="1", help="distinguishes the ark files of parallel jobs")
    parser.add_argument("--resume", type=lambda s: s.lower() == "true", default=True, help="true|false")
    return parser


def _finished(video_path: Path, wav_path: Path) -> int:
    """Frame count of a track a previous run completed (0 when there is none)."""
    if not (video_path.is_file() and wav_path.is_file()):
        return 0
    try:
        with av.open(str(video_path)) as container:
            return container.streams.video[0].frames
    except (av.FFmpegError, OSError, IndexError):
        return 0


def run(args: argparse.Namespace) -> dict:
    config = load_config(args.frontend_config)
    videos = read_table(args.video_scp)
    wavs = read_table(args.wav_scp) if args.wav_scp else None
    storage = config.storage
    media_dir = args.media_dir.absolute()
    writer = FaceTrackWriter(
        media_dir / "facetrack",
        storage.format,
        config.video.fps,
        storage.crf,
        storage.preset,
        tag=args.job_tag,
    )
    detector = make_detector(config)
    wav_scp: dict[str, str] = {}
    num_vframes: dict[str, str] = {}
    rejects: dict[str, str] = {}
    reused: dict[str, str] = {}
    start, start_cpu = time.perf_counter(), time.process_time()
    frames_done = 0
    try:
        for utt, spec in tqdm(videos.items(), desc=f"prepare_av {args.job_tag}", unit="utt", mininterval=5):
            wav_path = media_dir / "wav" / f"{utt}.wav"
            track_path = media_dir / "facetrack" / f"{utt}.mp4"
            if wavs is not None and utt not in wavs:
                rejects[utt] = f"no entry in {args.wav_scp}"
                log.warning("%s: rejected: %s", utt, rejects[utt])
                continue
            if args.resume and storage.format == "mp4" and (done := _finished(track_path, wav_path)):
                reused[utt] = str(track_path)
                wav_scp[utt], num_vframes[utt] = str(wav_path), str(done)
                continue
            try:
                result = prepare(spec, wavs[utt] if wavs is not None else None, config, detector)
            except ValueError as exc:
                rejects[utt] = str(exc)
                log.warning("%s: rejected: %s (%s)", utt, exc, spec)
                continue
            except Exception as exc:  # noqa: BLE001 (one broken file must not stop the job)
                rejects[utt] = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())}"
                log.error("%s: rejected: %s\n%s", utt, rejects[utt], traceback.format_exc())
                continue
            if result.resampled:
                log.info("%s: %.3g fps resampled to %g fps", utt, result.source_fps, config.video.fps)
            write_wav(wav_path, result.wav, config.audio.sample_rate)
            writer.write(utt, result.crops)
            wav_scp[utt], num_vframes[utt] = str(wav_path), str(len(result.crops))
            frames_done += len(result.crops)
        specs = writer.close() | reused
    except BaseException:
        writer.abort()
        raise
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    summary = {
        "job": args.job_tag,
        "utterances": len(videos),
        "done": len(specs),
        "reused": len(reused),
        "rejected": len(rejects),
        "frames": frames_done,
        "seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu, 3),
        "frames_per_second": round(frames_done / elapsed, 1) if elapsed > 0 else 0.0,
        "frames_per_cpu_second": round(frames_done / cpu, 1) if cpu > 0 else 0.0,
    }
    tables = {"rejects": rejects, "utt2num_vframes": num_vframes, "wav.scp": wav_scp, "video.scp": specs}
    write_job_outputs(args.out_dir, tables, summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    args = start_job(get_parser(), argv)
    log.info("config: %s", json.dumps(config_to_dict(load_config(args.frontend_config))))
    summary = run(args)
    log.info(
        "done %d, rejected %d of %d utterances; %d frames in %.1f s (%.1f frames/s, %.1f per CPU second)",
        summary["done"],
        summary["rejected"],
        summary["utterances"],
        summary["frames"],
        summary["seconds"],
        summary["frames_per_second"],
        summary["frames_per_cpu_second"],
    )


if __name__ == "__main__":
    sys.exit(main())

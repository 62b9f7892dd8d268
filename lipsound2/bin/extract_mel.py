"""Stage 2 job: the paper's log-mel features for the utterances of one ``wav.scp``.

Writes float32 ``(frames, n_mels)`` matrices to ``--ark`` (renamed into place at the end) and,
in ``--out_dir``, ``feats.scp``, ``utt2num_frames``, ``rejects`` and ``summary.json``. With
``--utt2num_vframes`` every utterance's mel frames are checked against its video frames times
the mel frames per video frame (``mel.frames_per_second / video.fps``, 2.5 for the paper's
settings); one further off than ``mel_tolerance`` frames is rejected with both counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import read_table
from lipsound2.frontend.config import FrontendConfig, load_config
from lipsound2.frontend.decode import load_audio
from lipsound2.frontend.mel import LogMel
from lipsound2.recipe.jobs import start_job, write_job_outputs

log = logging.getLogger("extract_mel")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--frontend_config", type=Path, help="front-end YAML (its mel section and mel_tolerance)"
    )
    parser.add_argument(
        "--wav_scp", type=Path, required=True, help="<utt> <wav at audio.sample_rate> (this job's share)"
    )
    parser.add_argument(
        "--utt2num_vframes", type=Path, help="video frames per utterance, for the length check"
    )
    parser.add_argument("--ark", type=Path, required=True, help="the ark file to write")
    parser.add_argument("--out_dir", type=Path, required=True, help="where this job's tables go")
    return parser


def length_problem(num_mel: int, num_video: int, config: FrontendConfig) -> str | None:
    """Why a mel/video frame count pair is off, or None when it is within tolerance."""
    expected = num_video * config.mel_per_video_frame
    # A centred STFT gives floor(samples / hop) + 1 frames: up to one more than the ratio.
    if expected - config.mel_tolerance <= num_mel <= expected + 1 + config.mel_tolerance:
        return None
    return (
        f"{num_mel} mel frames for {num_video} video frames "
        f"(expected about {expected:g}, tolerance {config.mel_tolerance:g})"
    )


def run(args: argparse.Namespace) -> dict:
    config = load_config(args.frontend_config)
    wavs = read_table(args.wav_scp)
    vframes = (
        {k: int(v) for k, v in read_table(args.utt2num_vframes).items()} if args.utt2num_vframes else None
    )
    mel = LogMel(config.mel)
    num_frames: dict[str, str] = {}
    rejects: dict[str, str] = {}
    feats_scp = args.out_dir / "feats.scp"
    start = time.perf_counter()
    audio_s = 0.0
    with ArkWriter(args.ark, feats_scp) as writer, torch.no_grad():
        for utt, spec in tqdm(wavs.items(), desc=f"extract_mel {args.ark.stem}", unit="utt", mininterval=5):
            try:
                wav = load_audio(spec, config.mel.sample_rate)
            except ValueError as exc:
                rejects[utt] = str(exc)
                log.warning("%s: rejected: %s (%s)", utt, exc, spec)
                continue
            feats = mel(torch.from_numpy(wav)).numpy().astype(np.float32)
            if vframes is not None:
                problem = f"no entry in {args.utt2num_vframes}" if utt not in vframes else None
                problem = problem or length_problem(len(feats), vframes[utt], config)
                if problem:
                    rejects[utt] = problem
                    log.warning("%s: rejected: %s", utt, problem)
                    continue
            writer[utt] = feats
            num_frames[utt] = str(len(feats))
            audio_s += len(wav) / config.mel.sample_rate
    elapsed = time.perf_counter() - start
    summary = {
        "job": args.ark.stem,
        "utterances": len(wavs),
        "done": len(num_frames),
        "rejected": len(rejects),
        "audio_seconds": round(audio_s, 2),
        "seconds": round(elapsed, 3),
        "real_time_factor": round(audio_s / elapsed, 1) if elapsed > 0 else 0.0,
    }
    write_job_outputs(args.out_dir, {"rejects": rejects, "utt2num_frames": num_frames}, summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    args = start_job(get_parser(), argv)
    torch.set_num_threads(1)
    summary = run(args)
    log.info(
        "done %d, rejected %d of %d utterances; %.1f s of audio in %.1f s (%.1fx real time)",
        summary["done"],
        summary["rejected"],
        summary["utterances"],
        summary["audio_seconds"],
        summary["seconds"],
        summary["real_time_factor"],
    )


if __name__ == "__main__":
    sys.exit(main())

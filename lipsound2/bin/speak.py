"""lipsound2-speak: speech from face videos with a packed model.

    lipsound2-speak VIDEO... --model PACK -o OUT_DIR

Each video (any format, frame rate or frame size FFmpeg reads; its audio, if any, is not
used) goes through the front end the model was trained with (the face is found, tracked
and cropped as in the recipe's stage 1), the network and the vocoder, and ``OUT_DIR/<video
name>.wav`` gets speech of the video's duration. A video longer than ``--window`` is decoded
in overlapping windows and joined (see lipsound2/inference/video_speaker.py). A video without a
usable face, or one that cannot be read, gets one error line on stderr and no wav; the
others go on, and the exit status is 1 if any failed. Each video's line on stdout gives its
real-time factor: seconds of work (front end, network, vocoder; not the one-time model
loading) per second of video.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from lipsound2.fileio.wav import write_wav
from lipsound2.inference import Video2Speech
from lipsound2.inference.video_speaker import DEFAULT_OVERLAP_S, DEFAULT_WINDOW_S, VideoSpeaker
from lipsound2.nets.lipsound2 import STOP_MODES
from lipsound2.nets.precision import PRECISIONS

PROG = "lipsound2-speak"

log = logging.getLogger(PROG)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    p.add_argument(
        "--model", required=True, metavar="PACK", help="a packed model (python -m lipsound2.bin.pack)"
    )
    p.add_argument("-o", "--out_dir", required=True, type=Path, help="where the wav files go")
    p.add_argument("--window", type=float, default=DEFAULT_WINDOW_S, help="window length, seconds")
    p.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_S, help="window overlap, seconds")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the front end and vocoder run on the CPU)")
    p.add_argument("--precision", choices=PRECISIONS, default=None, help="default: the pack's")
    p.add_argument("--stop_mode", choices=STOP_MODES, default=None, help="default: the pack's")
    p.add_argument(
        "--batch_size", type=int, default=None, help="windows decoded together (default: the pack's)"
    )
    p.add_argument(
        "--num_threads",
        type=int,
        default=1,
        help="torch CPU threads (the decoder's many small steps gain little from more, and lose "
        "much when other processes hold the cores: docs/speak.md)",
    )
    p.add_argument(
        "--speaker_wav",
        default=None,
        help="a recording of the voice to speak with (a units vocoder with a speaker input; "
        "default: the mean voice of its training set)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


def _output_names(videos: list[str], out_dir: Path) -> list[tuple[str, Path | str]]:
    """Each video with its wav path, or the reason it gets none (an earlier input of that name)."""
    names: list[tuple[str, Path | str]] = []
    taken: dict[Path, str] = {}
    for video in videos:
        wav = out_dir / f"{Path(video).stem}.wav"
        names.append((video, f"{wav} is already written for {taken[wav]}" if wav in taken else wav))
        taken.setdefault(wav, video)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.overlap < args.window:
        parser.error(f"need 0 <= --overlap < --window, got {args.overlap:g} and {args.window:g} s")
    logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
    overrides = {
        key: value
        for key in ("precision", "stop_mode", "batch_size", "num_threads")
        if (value := getattr(args, key)) is not None
    }
    start = time.perf_counter()
    try:
        v2s = Video2Speech.from_pretrained(args.model, device=args.device, **overrides)
        if args.speaker_wav is not None:
            v2s.use_speaker_wav(args.speaker_wav)
        speaker = VideoSpeaker(v2s, args.window, args.overlap, progress=not args.quiet)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"{PROG}: error: {args.model}: {_one_line(exc)}", file=sys.stderr)
        return 1
    print(f"{PROG}: model loaded in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    failed = 0
    seconds = work = 0.0
    for video, wav_path in _output_names(args.videos, args.out_dir):
        try:
            if isinstance(wav_path, str):
                raise ValueError(wav_path)
            spoken = speaker(video)
            write_wav(wav_path, spoken.wav, spoken.rate)
        except Exception as exc:  # noqa: BLE001 (one bad video must not stop the others)
            print(f"{PROG}: error: {video}: {_one_line(exc)}", file=sys.stderr)
            log.debug("%s", video, exc_info=True)
            failed += 1
            continue
        seconds, work = seconds + spoken.seconds, work + spoken.work
        print(
            f"{video} -> {wav_path}: {spoken.seconds:.2f} s of video in {spoken.work:.2f} s "
            f"({spoken.windows} window{'s' if spoken.windows > 1 else ''}), real-time factor "
            f"{spoken.work / spoken.seconds:.3f}"
        )
    done = len(args.videos) - failed
    if done > 1:
        print(f"{done} videos, {seconds:.2f} s in {work:.2f} s: real-time factor {work / seconds:.3f}")
    if failed:
        print(f"{PROG}: {failed} of {len(args.videos)} videos failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

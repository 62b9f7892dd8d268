"""Generate a synthetic corpus: GRID's layout, VoxCeleb2's layout for pre-training, or an
audio-only set in LibriSpeech's layout for audio pre-training of the decoder.

Speech comes from Festival (word alignments from its own timings), video from a drawn face whose
mouth follows the phones through visemes. The same arguments give the same files byte for byte.
A finished corpus is marked with GENERATED.json; re-running with the same arguments does nothing.

Examples:
  python -m lipsound2.bin.generate_corpus --kind grid --speakers 4 --utts 25 out/grid
  python -m lipsound2.bin.generate_corpus --kind voxceleb2 --dev_speakers 10 out/voxceleb2
  python -m lipsound2.bin.generate_corpus --kind librispeech --subsets "train-clean-100:8 dev-clean:2" out/ls
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from lipsound2.synthetic.generate import generate_grid, generate_librispeech, generate_voxceleb
from lipsound2.synthetic.speech import FESTIVAL_VOICES, festival_available


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", type=Path, help="output directory (created)")
    parser.add_argument(
        "--kind", choices=["grid", "voxceleb2", "librispeech"], default="grid", help="which corpus layout"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    parser.add_argument("--nproc", type=int, default=2, help="worker processes")
    grid = parser.add_argument_group("grid")
    grid.add_argument("--speakers", type=int, default=4, help="GRID-style speakers s1..sN")
    grid.add_argument("--utts", type=int, default=25, help="utterances per speaker")
    grid.add_argument(
        "--layout",
        choices=["a", "b"],
        default="a",
        help="a: sN/*.mpg + alignments/ + audio_25k/; b: sN/video/mpg_6000/ + sN/align/",
    )
    vox = parser.add_argument_group("voxceleb2")
    vox.add_argument("--dev_speakers", type=int, default=10, help="speakers in dev/")
    vox.add_argument("--test_speakers", type=int, default=2, help="speakers in test/")
    vox.add_argument("--videos", type=int, default=3, help="videos per speaker")
    vox.add_argument("--clips", type=int, default=4, help="clips per video")
    libri = parser.add_argument_group("librispeech (audio only)")
    libri.add_argument(
        "--subsets", default="train-clean-100:8 dev-clean:2", help="SUBSET:SPEAKERS pairs, space separated"
    )
    libri.add_argument("--chapters", type=int, default=2, help="chapters per speaker")
    libri.add_argument("--chapter_utts", type=int, default=5, help="utterances per chapter")
    return parser


def _subsets(value: str) -> dict[str, int]:
    subsets = {}
    for pair in value.split():
        name, _, count = pair.partition(":")
        if not name or not count.isdigit():
            raise ValueError(f"--subsets takes SUBSET:SPEAKERS pairs, got {pair!r}")
        subsets[name] = int(count)
    return subsets


def _generate(args: argparse.Namespace) -> int:
    if args.kind == "grid":
        return generate_grid(args.root, args.speakers, args.utts, args.seed, args.layout, args.nproc)
    if args.kind == "librispeech":
        return generate_librispeech(
            args.root, _subsets(args.subsets), args.chapters, args.chapter_utts, args.seed, args.nproc
        )
    return generate_voxceleb(
        args.root, args.dev_speakers, args.test_speakers, args.videos, args.clips, args.seed, args.nproc
    )


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s generate_corpus: %(message)s")
    missing = [v for v in FESTIVAL_VOICES if not festival_available(v)]
    if missing:
        logging.error("festival or its voices are missing: %s (run tools/install.sh)", " ".join(missing))
        return 1
    start = time.time()
    try:
        count = _generate(args)
    except ValueError as err:
        logging.error("%s", err)
        return 1
    if count == 0:
        logging.info("%s already generated with these settings; nothing to do", args.root)
    else:
        logging.info("wrote %d clips to %s in %.1f s", count, args.root, time.time() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())

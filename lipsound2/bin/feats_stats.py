"""Per-band mean and variance statistics of the log-mel features of a data dir.

Writes ``count``, ``sum`` and ``sum_square`` to an npz file, the format of ESPnet's
``--collect_stats`` output, so that ``--normalize global_mvn --normalize_conf stats_file=...``
reads it. Computed from ``feats.scp`` alone: ESPnet's collect-stats pass would also decode
every face track, which costs a full pass over the video of a corpus like VoxCeleb2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.atomic import atomic_path
from lipsound2.fileio.table import read_table


def feats_stats(feats_scp: str | Path) -> dict[str, np.ndarray]:
    """``count`` (frames), ``sum`` and ``sum_square`` (per band, float64) over ``feats_scp``."""
    count, total, squares = 0, None, None
    for utt, spec in tqdm(read_table(feats_scp).items(), desc="feats stats", unit="utt", mininterval=5):
        try:
            mel = load_array(spec).astype(np.float64)
        except Exception as exc:  # a damaged archive entry must name its utterance
            raise RuntimeError(f"{feats_scp}: cannot read utterance {utt} ({spec}): {exc}") from exc
        if total is None:
            total, squares = np.zeros(mel.shape[1]), np.zeros(mel.shape[1])
        count += mel.shape[0]
        total += mel.sum(axis=0)
        squares += (mel * mel).sum(axis=0)
    if total is None:
        raise ValueError(f"{feats_scp}: no utterances")
    return {"count": np.array(count), "sum": total, "sum_square": squares}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("feats_scp", type=Path)
    parser.add_argument("output", type=Path, help="npz file to write")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    stats = feats_stats(args.feats_scp)
    with atomic_path(args.output) as tmp, open(tmp, "wb") as f:
        np.savez(f, **stats)


if __name__ == "__main__":
    main()

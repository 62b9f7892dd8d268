"""What the parallel job entry points share: their arguments, share of a table and outputs.

Two kinds of job run under the job runners (``CMD JOB=1:N LOG prog args``):
- jobs given their own share of a table (``prepare_av``, ``extract_mel``) write their tables and a
  ``summary.json`` into ``--out_dir``; ``merge_jobs`` combines them;
- jobs given the whole table take every N-th entry with ``--job_id JOB --num_jobs N``
  (``judge``, ``score``, ``vocode``).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from lipsound2.fileio.atomic import atomic_path
from lipsound2.fileio.table import write_table


def start_job(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Logging with the logger's name on each line, the parsed arguments, and ``--out_dir`` made."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    return args


def write_job_outputs(out_dir: Path, tables: dict[str, dict[str, str]], summary: dict) -> None:
    """Write the job's tables, then its ``summary.json``: a job with a summary is complete."""
    for name, table in tables.items():
        write_table(out_dir / name, table)
    with atomic_path(out_dir / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1) + "\n")


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """``--job_id JOB --num_jobs N``: this job takes every N-th entry, starting at the JOB-th."""
    parser.add_argument("--job_id", type=int, default=1, help="this job's number, 1-based")
    parser.add_argument("--num_jobs", type=int, default=1, help="how many jobs share the table")


def job_share(keys: Iterable[str], args: argparse.Namespace) -> list[str]:
    """The keys this job takes (see :func:`add_job_arguments`), in table order."""
    if not 1 <= args.job_id <= args.num_jobs:
        raise SystemExit(f"--job_id {args.job_id} outside 1..{args.num_jobs}")
    return list(keys)[args.job_id - 1 :: args.num_jobs]

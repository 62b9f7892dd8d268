"""What the stage programs (``lipsound2.bin.*_plan``) share with the stage script.

A stage program works out what a step runs; the stage script launches it through the job
runner. Lists travel to the shell one item a line (read with ``read_lines`` of
``utils/stage_lib.sh``), so paths with spaces stay whole; an item holding a line break is
refused rather than split.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lipsound2.fileio.atomic import atomic_open


class PlanError(Exception):
    """A step cannot run (a missing input): the message says which file and what to run."""


def log(source: str, message: str) -> None:
    """A log line on standard error, in the form of the stage script's."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} ({source}) {message}", file=sys.stderr)


def parse_plan_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser``'s options from ``argv``; a required option given an empty value is a usage
    error naming it (the stage script passes shell variables, and an empty one would
    otherwise stand for the current directory or for no file)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    required = {name for action in parser._actions if action.required for name in action.option_strings}
    empty = [name for name, value in zip(argv, argv[1:]) if name in required and value == ""]
    empty += [arg[:-1] for arg in argv if arg.endswith("=") and arg[:-1] in required]
    if empty:
        parser.error(f"empty value for {', '.join(empty)}")
    return parser.parse_args(argv)


def run_plan(source: str, action: Callable[[Any], None], args: Any) -> int:
    """A stage program's exit status: 0 when ``action(args)`` ran, else 1 after a log line
    naming what is missing or wrong (no traceback for a user's input)."""
    try:
        action(args)
    except (PlanError, OSError, ValueError) as exc:
        log(source, f"Error: {exc}")
        return 1
    return 0


def print_lines(items: Iterable[str]) -> None:
    """Each item on a line of its own (the shell reads them into an array)."""
    for item in items:
        if "\n" in item:
            raise PlanError(f"a line break in {item!r}: not passed to the shell")
        print(item)


def job_files(pattern: str, num_jobs: int) -> list[str]:
    """``pattern`` (a file name with ``JOB``) for jobs 1..num_jobs."""
    return [pattern.replace("JOB", str(n)) for n in range(1, num_jobs + 1)]


def merge_job_tables(pattern: str, num_jobs: int, out: str | os.PathLike, header: bool = False) -> None:
    """The jobs' tables ``pattern`` (``JOB`` for 1..num_jobs), their lines sorted, into ``out``
    (written whole or not at all). ``header``: each table starts with the same header line,
    which is kept once."""
    head: list[str] = []
    lines: list[str] = []
    for path in job_files(pattern, num_jobs):
        text = Path(path).read_text(encoding="utf-8").splitlines()
        if header and text:
            head, text = text[:1], text[1:]
        lines.extend(text)
    with atomic_open(out, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in head + sorted(lines))

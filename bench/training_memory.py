"""Resident memory of a whole run, per epoch: does a training (or any command) grow?

Not a test: run by hand. It starts the command, samples the resident memory of the
command's whole process tree every ``--interval`` seconds from /proc, and at the end prints
the wall time, the peak, and, with ``--train_log``, the memory when ESPnet's trainer logged
each "<N>epoch results" line. For example, in egs/grid after stages 1-2:

  python ../../bench/training_memory.py --train_log exp/lipsound2_train_cpu/train.log \\
      --timeline mem.tsv -- ./run.sh --stage 4 --stop_stage 4 \\
      --train_config ../TEMPLATE/conf/train_cpu.yaml --pretrain_model "" --init_from_pretrain false \\
      --train_args "--max_epoch 40 --patience none"

The figures of docs/network.md ("Memory over a long training") come from it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
EPOCH_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ .*?(\d+)epoch results")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(pid: int) -> tuple[int, int]:
    """Summed resident bytes of ``pid`` and its descendants, and the largest single process."""
    tree, total, largest, todo = _children(), 0, 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(tree.get(p, []))
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                rss = int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def epoch_times(train_log: Path) -> list[tuple[int, float]]:
    """(epoch, unix time) of each "<N>epoch results" line of an ESPnet training log."""
    out = []
    for line in train_log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = EPOCH_LINE.search(line)
        if m:
            out.append((int(m.group(2)), datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interval", type=float, default=2.0, help="seconds between samples")
    p.add_argument("--train_log", type=Path, default=None, help="ESPnet train.log to align epochs with")
    p.add_argument("--timeline", type=Path, default=None, help="write time, tree and largest RSS (MB)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no command given")
    start = time.time()
    proc = subprocess.Popen(command)
    samples: list[tuple[float, int, int]] = []
    while proc.poll() is None:
        samples.append((time.time(), *tree_rss(proc.pid)))
        time.sleep(args.interval)
    wall = time.time() - start
    if args.timeline:
        with open(args.timeline, "w", encoding="utf-8") as f:
            f.write("seconds\ttree_mb\tlargest_mb\n")
            for t, total, largest in samples:
                f.write(f"{t - start:.1f}\t{total / 2**20:.0f}\t{largest / 2**20:.0f}\n")
    peak_tree = max((s[1] for s in samples), default=0)
    peak_one = max((s[2] for s in samples), default=0)
    print(f"exit {proc.returncode}, wall {wall:.0f} s, {len(samples)} samples")
    print(f"peak resident: process tree {peak_tree / 2**30:.2f} GiB, ", end="")
    print(f"largest process {peak_one / 2**30:.2f} GiB")
    if args.train_log and args.train_log.exists():
        print("epoch\tlargest process resident at the epoch's log line (GiB)")
        for epoch, when in epoch_times(args.train_log):
            before = [s for s in samples if s[0] <= when + 1.0]
            if before:
                print(f"{epoch}\t{before[-1][2] / 2**30:.2f}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

"""Merge the outputs of parallel front-end jobs into one consistent Kaldi data dir.

Each job dir holds some of ``--tables`` (e.g. ``video.scp wav.scp utt2num_vframes``), a
``rejects`` file and ``summary.json``. The merged tables go to ``--dst_dir``; every per-utterance
table of ``--src_dir`` (``text``, ``utt2spk``, ``utt2*``, ``*.scp``) is copied there restricted to
the accepted utterances, ``spk2utt`` is rebuilt, other ``spk2*`` tables keep the remaining
speakers, and the new rejects are appended to ``<dst_dir>/rejects`` (their transcripts to
``<dst_dir>/text.rejected``: stage 8 counts them as failed, all words deleted). Exits with
status 1 when the share rejected passes ``--max_reject_share``.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

from lipsound2.corpus.datadir import REJECTED_TEXT
from lipsound2.fileio.table import read_table, write_table


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src_dir", type=Path, required=True, help="data dir the jobs read")
    parser.add_argument("--dst_dir", type=Path, required=True, help="data dir to write (may be --src_dir)")
    parser.add_argument(
        "--tables", nargs="+", required=True, help="table names the jobs wrote; the first lists accepted utts"
    )
    parser.add_argument("--max_reject_share", type=float, default=0.1)
    parser.add_argument("--name", default="front end", help="step name for messages")
    parser.add_argument("job_dirs", nargs="+", type=Path)
    return parser


def _per_utt_tables(data_dir: Path) -> list[str]:
    names = []
    for path in sorted(data_dir.iterdir()):
        name = path.name
        if path.is_file() and (
            name in ("text", "utt2spk") or name.startswith("utt2") or name.endswith(".scp")
        ):
            names.append(name)
    return names


def merge(args: argparse.Namespace) -> int:
    merged: dict[str, dict[str, str]] = {name: {} for name in args.tables}
    new_rejects: dict[str, str] = {}
    summaries = []
    for job in args.job_dirs:
        for name in args.tables:
            merged[name].update(read_table(job / name))
        new_rejects.update(read_table(job / "rejects"))
        summaries.append(json.loads((job / "summary.json").read_text()))
    accepted = set(merged[args.tables[0]])
    for name, table in merged.items():
        if set(table) != accepted:
            raise SystemExit(f"{args.name}: job table {name} lists other utterances than {args.tables[0]}")
    carried = {}
    for name in _per_utt_tables(args.src_dir):
        if name not in merged:
            carried[name] = {k: v for k, v in read_table(args.src_dir / name).items() if k in accepted}
    old_rejects = read_table(args.dst_dir / "rejects") if (args.dst_dir / "rejects").is_file() else {}
    # read before the tables are written: stage 2 merges into its source dir
    texts = read_table(args.src_dir / "text") if (args.src_dir / "text").is_file() else None
    args.dst_dir.mkdir(parents=True, exist_ok=True)
    for name, table in {**carried, **merged}.items():
        write_table(args.dst_dir / name, table)
    if "utt2spk" in carried:
        spk2utt = collections.defaultdict(list)
        for utt, spk in sorted(carried["utt2spk"].items()):
            spk2utt[spk].append(utt)
        write_table(args.dst_dir / "spk2utt", {spk: " ".join(utts) for spk, utts in spk2utt.items()})
        for path in sorted(args.src_dir.glob("spk2*")):
            if path.name != "spk2utt" and path.is_file():
                table = read_table(path)
                write_table(args.dst_dir / path.name, {k: v for k, v in table.items() if k in spk2utt})
    write_table(args.dst_dir / "rejects", {**old_rejects, **new_rejects})
    if texts is not None:
        rejected_path = args.dst_dir / REJECTED_TEXT
        rejected = read_table(rejected_path) if rejected_path.is_file() else {}
        rejected.update({k: texts[k] for k in new_rejects if k in texts})
        write_table(rejected_path, rejected)

    total = len(accepted) + len(new_rejects)
    share = len(new_rejects) / total if total else 0.0
    reasons = collections.Counter(reason.split(" (")[0][:60] for reason in new_rejects.values())
    print(f"{args.name}: {len(accepted)} done, {len(new_rejects)} rejected of {total} ({share:.1%})")
    for key in ("frames_per_second", "frames_per_cpu_second", "real_time_factor"):
        rates = [s[key] for s in summaries if key in s and s.get("seconds")]
        if rates:
            print(f"{args.name}: {key} per job: " + ", ".join(f"{r:g}" for r in rates))
    for reason, count in reasons.most_common(5):
        print(f"{args.name}:   {count} x {reason}")
    if share > args.max_reject_share:
        print(
            f"{args.name}: rejected share {share:.1%} is above --max_reject_share {args.max_reject_share:g}; "
            f"see {args.dst_dir / 'rejects'} and the job logs",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(merge(get_parser().parse_args(argv)))


if __name__ == "__main__":
    main()

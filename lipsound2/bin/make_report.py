"""Write RESULTS.md (the paper's table layouts, environment header) and an HTML report page.

Rows are evaluation dirs given as ``--exp "LABEL=DIR"`` (repeatable, in table order; DIR
may contain ``{set}``, replaced by each test set's name), e.g.

  --test_set test=dump/test \\
  --exp "Oracle (vocoded ground truth)=exp/lipsound2_train/oracle_{set}" \\
  --exp "LipSound2 (pre-trained + fine-tuned)=exp/lipsound2_train/decode_{set}" \\
  --exp "LipSound2 (from scratch)=exp/lipsound2_scratch/decode_{set}"

Per-utterance text scores are written to ``DIR/scores/<hyp>_<wer|cer>.tsv``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lipsound2.fileio.atomic import atomic_open
from lipsound2.report.environment import environment
from lipsound2.report.html import write_report
from lipsound2.report.results import collect, parse_pair, results_markdown


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test_set", action="append", required=True, help="NAME=REF_DIR (wav.scp, text)")
    p.add_argument("--exp", action="append", required=True, help="LABEL=DIR, a table row")
    p.add_argument("--lang", default="en", help="en: WER, zh: CER")
    p.add_argument("--results", required=True, help="RESULTS.md to write")
    p.add_argument("--html", default=None, help="HTML page to write (e.g. exp/x/report/index.html)")
    p.add_argument("--title", default="LipSound2 results")
    p.add_argument("--conf", action="append", default=[], help="config file to list in the header")
    p.add_argument("--note", action="append", default=[], help="a line of text under the header")
    p.add_argument("--num_samples", type=int, default=3, help="utterances with players on the page")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    test_sets = {name: Path(d) for name, d in map(parse_pair, args.test_set)}
    for name, d in test_sets.items():
        if not (d / "text").is_file() or not (d / "wav.scp").is_file():
            raise SystemExit(f"test set {name}: {d} needs wav.scp and text")
    rows = [parse_pair(spec) for spec in args.exp]
    res = collect(test_sets, rows, args.lang)
    for label in res.labels:
        if not res.dirs[label]:
            logging.warning("row %r: no evaluation dir found for any test set", label)
    env = environment(args.conf) + [("command", " ".join(sys.argv))]
    with atomic_open(args.results, "w", encoding="utf-8") as f:
        f.write(results_markdown(res, env, args.note))
    logging.info("wrote %s", args.results)
    if args.html:
        write_report(res, args.html, args.title, test_sets, env, args.num_samples)
        logging.info("wrote %s", args.html)
    return 0


if __name__ == "__main__":
    sys.exit(main())

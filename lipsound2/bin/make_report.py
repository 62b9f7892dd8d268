"""Write RESULTS.md (the paper's table layouts, environment header) and an HTML report page.

Rows are evaluation dirs given as ``--exp "LABEL=DIR"`` (repeatable, in table order; DIR
may contain ``{set}``, replaced by each test set's name), e.g.

  --test_set test=dump/test \\
  --exp "Oracle (vocoded ground truth)=exp/lipsound2_train/oracle_{set}" \\
  --exp "LipSound2 (pre-trained + fine-tuned)=exp/lipsound2_train/decode_{set}" \\
  --exp "LipSound2 (from scratch)=exp/lipsound2_scratch/decode_{set}"

Per-utterance text scores are written to ``DIR/scores/<hyp>_<wer|cer>.tsv``. Every cell
counts the test set's utterances it covers. With the settings in force (the experiment's
``config.yaml``, ``--inference_config``, ``--frontend_config``, the vocoder and ASR options),
both pages also list every setting the paper did not use (``lipsound2/report/paper.py``).
The pages are rebuilt from the scores on every call: they are never older than their inputs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.report.environment import environment
from lipsound2.report.html import write_report
from lipsound2.report.paper import SettingsInForce, differences
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
    g = p.add_argument_group("settings in force, compared with the paper's (none given: no comparison)")
    g.add_argument("--train_exp_config", default=None, help="config.yaml the trainer wrote in the experiment")
    g.add_argument("--inference_config", default=None, help="stage 5's inference YAML")
    g.add_argument("--frontend_config", default=None, help="stages 1-2's front-end YAML")
    g.add_argument("--vocoder_type", default=None, help="griffin_lim, hifigan or hifigan_units")
    g.add_argument("--asr_exp_config", default=None, help="config.yaml of the ASR decoding generated speech")
    g.add_argument(
        "--asr_pretrained_model",
        default=None,
        help="the pre-trained ASR fine-tuned; '' (empty): an ASR trained from scratch on the corpus",
    )
    g.add_argument("--ngram_order", type=int, default=None, help="the LM's order; 0: no LM")
    g.add_argument("--asr_lr_factor", type=float, default=None, help="ASR fine-tuning lr / base lr")
    return p


def settings_in_force(args: argparse.Namespace) -> SettingsInForce | None:
    """The settings given on the command line, read from their files; None when none is given."""
    s = SettingsInForce(
        train_config=load_yaml(args.train_exp_config) if args.train_exp_config else None,
        train_config_path=Path(args.train_exp_config) if args.train_exp_config else None,
        inference_config=load_yaml(args.inference_config) if args.inference_config else None,
        frontend=load_config(args.frontend_config) if args.frontend_config else None,
        vocoder_type=args.vocoder_type,
        asr_config=load_yaml(args.asr_exp_config) if args.asr_exp_config else None,
        asr_pretrained_model=args.asr_pretrained_model,
        ngram_order=args.ngram_order,
        asr_lr_factor=args.asr_lr_factor,
    )
    return None if s == SettingsInForce() else s


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    test_sets = {name: Path(d) for name, d in map(parse_pair, args.test_set)}
    for name, d in test_sets.items():
        if not (d / "text").is_file() or not (d / "wav.scp").is_file():
            raise SystemExit(f"test set {name}: {d} needs wav.scp and text")
    rows = [parse_pair(spec) for spec in args.exp]
    res = collect(test_sets, rows, args.lang)
    if settings := settings_in_force(args):
        res.paper_differences = [d.row() for d in differences(settings)]
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

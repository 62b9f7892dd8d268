"""Paired differences between rows of a results table, on the utterances both rows scored.

The set-level tables of stage 8 give each row's mean with its own confidence interval; two
rows scored on the same test utterances are compared far more sharply by the per-utterance
differences, since most of the spread between utterances is shared. For every row against
``--baseline`` (row minus baseline), over the utterances both eval dirs scored
(``scores/speech.tsv``): the mean ESTOI and NB PESQ difference with its 95 % Student-t
half-width, and for each judge whose ``hyp/judge_<name>.txt`` both rows have, the pooled
error rate of each row and its difference with a 95 % paired bootstrap interval over
utterances. Utterances that either row failed or lacks are counted and named, not hidden.

Example::

    python -m lipsound2.bin.paired_differences --ref_text dump_mouth/test_sd/text \\
        --row "Griffin-Lim=exp/A/decode_test_sd_x" --row "HiFi-GAN=exp/B/decode_test_sd_x" \\
        --baseline Griffin-Lim --out paired.md
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lipsound2.asr.judge import JUDGES, judge_hyp_name
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table
from lipsound2.metrics.scoring import SpeechRow, confidence_halfwidth, hyp_files, read_speech_tsv
from lipsound2.metrics.text import ErrorCounts, error_counts, pooled_rate
from lipsound2.report.results import parse_pair

SPEECH_DIFFS = {"estoi": "ESTOI", "pesq_nb": "PESQ-NB"}  # SpeechRow column: table heading


@dataclass
class EvalDir:
    """One row: its per-utterance speech scores and its judges' hypothesis tables."""

    label: str
    speech: dict[str, SpeechRow]
    judges: dict[str, Path]  # judge name: hyp/judge_<name>.txt


@dataclass(frozen=True)
class RateDiff:
    """Pooled error rates (percent) of baseline and row and the row's difference with its CI."""

    base: float
    row: float
    low: float
    high: float

    @property
    def diff(self) -> float:
        return self.row - self.base


@dataclass
class Comparison:
    """One row against the baseline on their shared utterances."""

    label: str
    shared: list[str]
    left_out: dict[str, str]  # utterance: why it is not paired
    speech: dict[str, tuple[float, float]] = field(default_factory=dict)  # column: (mean diff, half-width)
    text: dict[str, RateDiff] = field(default_factory=dict)  # judge name: rates


def load_eval_dir(label: str, eval_dir: Path) -> EvalDir:
    """The scores of ``eval_dir``; SystemExit naming what is missing."""
    if not eval_dir.is_dir():
        raise SystemExit(f"row {label}: no eval dir {eval_dir}")
    tsv = eval_dir / "scores" / "speech.tsv"
    if not tsv.is_file():
        raise SystemExit(f"row {label}: no {tsv} (run stage 8)")
    hyps = hyp_files(eval_dir)
    judges = {name: hyps[judge_hyp_name(name)] for name in JUDGES if judge_hyp_name(name) in hyps}
    return EvalDir(label, read_speech_tsv(tsv), judges)


def _why_not_scored(row: EvalDir, key: str) -> str | None:
    if key not in row.speech:
        return f"{row.label}: no row"
    if row.speech[key].error:
        return f"{row.label}: {row.speech[key].error}"
    return None


def bootstrap_rate_diff(
    base: list[ErrorCounts], row: list[ErrorCounts], resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the pooled-rate difference (row minus base), resampling utterances.

    Each resample draws the same utterances for both rows (a paired bootstrap) and pools
    errors over reference units as :func:`pooled_rate` does; NaN below two utterances.
    """
    if len(base) < 2:
        return math.nan, math.nan
    errors_base = np.array([c.errors for c in base])
    errors_row = np.array([c.errors for c in row])
    ref_length = np.array([c.ref_length for c in base])
    idx = np.random.default_rng(seed).integers(0, len(base), size=(resamples, len(base)))
    diffs = 100.0 * (errors_row[idx].sum(1) - errors_base[idx].sum(1)) / np.maximum(ref_length[idx].sum(1), 1)
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def compare(
    base: EvalDir, row: EvalDir, refs: dict[str, str], metric: str, resamples: int, seed: int
) -> Comparison:
    """``row`` minus ``base`` over the utterances both scored, of the reference's and theirs.

    A judge's missing hypothesis for a shared utterance counts as all deletions, as in
    :func:`lipsound2.metrics.scoring.score_text`.
    """
    keys = sorted(set(refs) | set(base.speech) | set(row.speech))
    left_out = {}
    for key in keys:
        why = [w for w in (_why_not_scored(base, key), _why_not_scored(row, key)) if w]
        if key not in refs:
            why.append("not in the reference text")
        if why:
            left_out[key] = "; ".join(why)
    shared = [k for k in keys if k not in left_out]
    out = Comparison(row.label, shared, left_out)
    for column in SPEECH_DIFFS:
        diffs = np.array([row.speech[k].scores[column] - base.speech[k].scores[column] for k in shared])
        out.speech[column] = (float(diffs.mean()) if shared else math.nan, confidence_halfwidth(diffs))
    for name in (n for n in base.judges if n in row.judges and shared):
        hyps_base, hyps_row = read_table(base.judges[name]), read_table(row.judges[name])
        counts_base = [error_counts(refs[k], hyps_base.get(k, ""), metric) for k in shared]
        counts_row = [error_counts(refs[k], hyps_row.get(k, ""), metric) for k in shared]
        low, high = bootstrap_rate_diff(counts_base, counts_row, resamples, seed)
        out.text[name] = RateDiff(pooled_rate(counts_base), pooled_rate(counts_row), low, high)
    return out


def _num(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def markdown(baseline: str, comparisons: list[Comparison], metric: str, resamples: int, seed: int) -> str:
    """The table, one line per row, and the utterances each comparison leaves out."""
    judges = [name for name in JUDGES if any(name in c.text for c in comparisons)]
    rate = metric.upper()
    header = ["Row", "n shared", *(f"Δ{SPEECH_DIFFS[c]}" for c in SPEECH_DIFFS)]
    for name in judges:
        header += [f"{name} {rate} (%) base -> row", f"Δ{rate} [95 % CI]"]
    lines = [
        f"Paired differences against {baseline} (row minus baseline, on the utterances both scored;"
        f" ± the 95 % Student-t half-width; {rate} intervals: paired bootstrap over utterances,"
        f" {resamples} resamples, seed {seed})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for c in comparisons:
        cells = [c.label, str(len(c.shared))]
        cells += [f"{_num(mean, '+.3f')} ± {_num(hw, '.3f')}" for mean, hw in c.speech.values()]
        for name in judges:
            if name in c.text:
                t = c.text[name]
                cells += [
                    f"{t.base:.1f} -> {t.row:.1f}",
                    f"{t.diff:+.1f} [{_num(t.low, '+.1f')}, {_num(t.high, '+.1f')}]",
                ]
            else:
                cells += ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    for c in comparisons:
        if c.left_out:
            named = ", ".join(f"{k} ({why})" for k, why in c.left_out.items())
            lines += ["", f"{c.label} vs {baseline}, left out ({len(c.left_out)}): {named}"]
    return "\n".join(lines) + "\n"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--ref_text", type=Path, required=True, help="the test set's reference text (utt text lines)"
    )
    p.add_argument(
        "--row",
        action="append",
        required=True,
        help="LABEL=EVAL_DIR (a decode or oracle dir); repeat per row",
    )
    p.add_argument("--baseline", required=True, help="the LABEL of the row the others are compared with")
    p.add_argument(
        "--metric", choices=("wer", "cer"), default="wer", help="the judges' error rate (cer for Chinese)"
    )
    p.add_argument(
        "--resamples", type=int, default=2000, help="bootstrap resamples of the error-rate intervals"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument("--out", type=Path, help="also write the markdown here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    if args.resamples < 1:
        raise SystemExit(f"--resamples must be at least 1; got {args.resamples}")
    try:
        specs = [parse_pair(spec) for spec in args.row]
    except ValueError as exc:
        raise SystemExit(f"--row: {exc}") from exc
    labels = [label for label, _ in specs]
    if len(set(labels)) < len(labels):
        raise SystemExit(f"row labels given twice in {', '.join(labels)}")
    if args.baseline not in labels:
        raise SystemExit(f"unknown baseline {args.baseline!r}; the rows are {', '.join(labels)}")
    if not args.ref_text.is_file():
        raise SystemExit(f"no reference text {args.ref_text}")
    refs = read_table(args.ref_text)
    rows = {label: load_eval_dir(label, Path(d)) for label, d in specs}
    base = rows.pop(args.baseline)
    comparisons = [compare(base, row, refs, args.metric, args.resamples, args.seed) for row in rows.values()]
    table = markdown(args.baseline, comparisons, args.metric, args.resamples, args.seed)
    print(table, end="")
    if args.out is not None:
        with atomic_open(args.out, "w", encoding="utf-8") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Collect the scores of several evaluation dirs over the test sets and lay out the tables.

Rows are ``LABEL=DIR`` pairs (DIR may contain ``{set}``), in the order given; columns are
test sets, as the paper's tables have one column group per corpus or split. Tables:
speech reconstruction in the layout of Tables III-V (ESTOI, PESQ), every speech metric,
lip reading in the layout of Tables VI-VII (WER or CER; rows + LM and + fine-tuning come
from the ``hyp/asr_lm`` and ``hyp/asr_ft`` files), and each independent judge's WER (a table
per judge, from the ``hyp/judge_<name>`` files).
Every cell says how many of the test set's utterances it covers (scored / expected), and
the speech tables count generated durations far from the reference's.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from lipsound2.asr.judge import JUDGES, judge_hyp_name
from lipsound2.corpus.datadir import REJECTED_TEXT
from lipsound2.fileio.table import read_table
from lipsound2.metrics.scoring import (
    DURATION_TOLERANCE,
    hyp_files,
    read_speech_tsv,
    score_text,
    summarize_speech,
)
from lipsound2.metrics.text import metric_for_lang
from lipsound2.recipe.marker import stale_inputs
from lipsound2.report.training import best_validation, experiment_of

# hypothesis file -> row label suffix, in table order
ASR_HYPS = {"asr": "", "asr_ft": " + fine-tuning", "asr_lm": " + LM"}
OFF = f"length off >{DURATION_TOLERANCE:.0%}"


@dataclass
class Cell:
    """What one evaluation dir gives for one test set."""

    speech: dict[str, float] | None = None
    text: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Results:
    sets: list[str]
    labels: list[str]
    dirs: dict[str, dict[str, Path]]
    cells: dict[str, dict[str, Cell]]
    metric: str  # wer or cer
    training: dict[str, dict[str, float]] = field(default_factory=dict)  # label -> best valid stats
    # (setting, here, the paper, can it be the paper's) rows; None: not compared
    paper_differences: list[tuple[str, str, str, str]] | None = None


def parse_pair(spec: str) -> tuple[str, str]:
    """``LABEL=VALUE``; the label may hold spaces and parentheses, not ``=``."""
    label, sep, value = spec.partition("=")
    if not sep or not label.strip() or not value.strip():
        raise ValueError(f"expected LABEL=PATH, got {spec!r}")
    return label.strip(), value.strip()


def speech_scores_of(eval_dir: Path, ref_dir: Path) -> dict[str, float] | None:
    """Summary of ``eval_dir/scores/speech.tsv`` over the utterances of ``ref_dir/wav.scp``
    and those the front end rejected (``ref_dir/rejects``: failed).

    Scores whose done marker (``scores/.done.speech``, stage 8) records other audio than its
    tables now list are refused rather than reported.
    """
    tsv = eval_dir / "scores" / "speech.tsv"
    if not tsv.exists():
        return None
    stale = stale_inputs(tsv.parent, "speech")
    if stale:
        raise ValueError(
            f"{tsv} was scored from other audio than {', '.join(stale)} now lists: score it again"
        )
    expected = {**read_table(ref_dir / "wav.scp"), **_optional_table(ref_dir / "rejects")}
    return summarize_speech(read_speech_tsv(tsv), expected)


def _optional_table(path: Path) -> dict[str, str]:
    return read_table(path) if path.is_file() else {}


def collect(test_sets: dict[str, Path], rows: list[tuple[str, str]], lang: str = "en") -> Results:
    """Read speech TSVs and score every hypothesis file (per-utterance TSVs kept beside them)."""
    metric = metric_for_lang(lang)
    dirs: dict[str, dict[str, Path]] = {}
    cells: dict[str, dict[str, Cell]] = {}
    for label, pattern in rows:
        if label in dirs:
            raise ValueError(f"row label {label!r} given twice")
        dirs[label], cells[label] = {}, {}
        for set_name, ref_dir in test_sets.items():
            d = Path(pattern.replace("{set}", set_name))
            if not d.is_dir():
                continue
            dirs[label][set_name] = d
            cell = Cell(speech=speech_scores_of(d, ref_dir))
            rejected = _optional_table(ref_dir / REJECTED_TEXT)
            for name, path in hyp_files(d).items():
                out = d / "scores" / f"{name}_{metric}.tsv"
                out.parent.mkdir(parents=True, exist_ok=True)
                cell.text[name] = score_text(ref_dir / "text", path, metric, out, rejected)
            cells[label][set_name] = cell
    training = {}
    for label in dirs:
        exps = {experiment_of(d) for d in dirs[label].values()} - {None}
        if len(exps) == 1 and (stats := best_validation(exps.pop() / "train.log")):
            training[label] = stats
    return Results(list(test_sets), [label for label, _ in rows], dirs, cells, metric, training)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


SPEECH_ORDER = ("stoi", "estoi", "pesq_nb", "pesq_wb")  # columns of the all-metrics tables


def _ci(sp: dict[str, float] | None, metric: str, digits: int) -> str:
    """``±half-width`` of a metric's 95 % confidence interval; ``-`` without one."""
    value = (sp or {}).get(f"{metric}_ci")
    return "-" if value is None or math.isnan(value) else f"±{value:.{digits}f}"


def _count(value: dict[str, float] | None, key: str = "n") -> str:
    """``scored/expected`` of a cell's summary; ``-`` without one."""
    return "-" if not value else f"{int(value[key])}/{int(value['expected'])}"


def _off(sp: dict[str, float] | None) -> str:
    return "-" if not sp else str(int(sp["duration_off"]))


def tables(res: Results) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, header, rows)`` of every results table (empty tables left out)."""
    out = []
    unit = res.metric.upper()
    if res.paper_differences is not None:
        header = ["Setting", "Here", "The paper", "Can it be the paper's?"]
        rows = [list(d) for d in res.paper_differences] or [["(none)", "-", "-", "-"]]
        out.append(("Differences from the paper (settings in force)", header, rows))

    def cell(label: str, s: str) -> Cell | None:
        return res.cells[label].get(s)

    speech_labels = [lb for lb in res.labels if any((c := cell(lb, s)) and c.speech for s in res.sets)]
    if speech_labels:
        columns = ("ESTOI", "95% CI", "PESQ (NB)", "95% CI", "utts", OFF)
        header = ["Model"] + [f"{s} {m}" for s in res.sets for m in columns]
        rows = []
        for lb in speech_labels:
            row = [lb]
            for s in res.sets:
                sp = c.speech if (c := cell(lb, s)) else None
                row += [_fmt((sp or {}).get("estoi"), 3), _ci(sp, "estoi", 3)]
                row += [_fmt((sp or {}).get("pesq_nb"), 3), _ci(sp, "pesq_nb", 3)]
                row += [_count(sp), _off(sp)]
            rows.append(row)
        title = (
            "Speech reconstruction (layout of the paper's Tables III-V; 95% CI: half-width over "
            "test utterances; utts: scored / expected)"
        )
        out.append((title, header, rows))
        for s in res.sets:
            header = ["Model", "utts", "STOI", "ESTOI", "PESQ (NB)", "PESQ (WB)", "gen/ref length", OFF]
            rows = []
            for lb in speech_labels:
                sp = c.speech if (c := cell(lb, s)) else None
                if sp:
                    rows.append(
                        [lb, _count(sp)]
                        + [f"{_fmt(sp[m], 3)} {_ci(sp, m, 3)}" for m in SPEECH_ORDER]
                        + [_fmt(sp["duration_ratio"], 2), _off(sp)]
                    )
            if rows:
                title = (
                    f"All speech metrics, {s} (means over the scored utterances ± 95% CI; "
                    "gen/ref length: median generated / real duration)"
                )
                out.append((title, header, rows))

    def text_rows(names: dict[str, str]) -> list[list[str]]:
        rows = []
        for lb in res.labels:
            for name, suffix in names.items():
                if any((c := cell(lb, s)) and name in c.text for s in res.sets):
                    vals = []
                    for s in res.sets:
                        t = c.text.get(name) if (c := cell(lb, s)) else None
                        vals += [_fmt(t["rate"] if t else None, 2), _count(t)]
                    rows.append([lb + suffix, *vals])
        return rows

    utts = "utts: hypotheses / expected, a missing one counts as all deletions"
    header = [h for s in res.sets for h in (s, f"{s} utts")]
    if asr_rows := text_rows(ASR_HYPS):
        title = f"Cascaded lip reading, {unit} % (layout of the paper's Tables VI-VII; {utts})"
        out.append((title, ["Model", *header], asr_rows))
    for name, judge in JUDGES.items():
        if judge_rows := text_rows({judge_hyp_name(name): ""}):
            title = f"Independent judge: {judge} (not trained here), {unit} % ({utts})"
            out.append((title, ["Audio", *header], judge_rows))
    if res.training:
        # Eq. 5 is dec_loss + post_loss; "loss" also holds the optional guided-attention and
        # encoder read-out terms, so it compares only models trained with the same weights
        header = ["Model", "best epoch", "valid dec_loss", "valid post_loss", "Eq. 5", "training objective"]
        rows = []
        for lb, st in res.training.items():
            dec, post = st.get("dec_loss"), st.get("post_loss")
            eq5 = None if dec is None or post is None else dec + post
            rows.append(
                [
                    lb,
                    str(int(st["epoch"])),
                    _fmt(dec, 3),
                    _fmt(post, 3),
                    _fmt(eq5, 3),
                    _fmt(st.get("loss"), 3),
                ]
            )
        out.append(("Training: teacher-forced validation losses at the best epoch", header, rows))
    return out


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(x: str) -> str:
        return x.replace("|", "\\|")

    lines = ["| " + " | ".join(map(esc, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines)


def results_markdown(res: Results, environment: list[tuple[str, str]], notes: list[str] | None = None) -> str:
    """RESULTS.md: an environment header, then every table."""
    parts = [
        "<!-- Generated by lipsound2.bin.make_report; do not edit -->",
        "# RESULTS",
        "",
        "## Environment",
        "",
    ]
    parts += [f"- {k}: `{v}`" for k, v in environment]
    for note in notes or []:
        parts += ["", note]
    for title, header, rows in tables(res):
        parts += ["", f"## {title}", "", markdown_table(header, rows)]
    return "\n".join(parts) + "\n"


def relpath(path: str | os.PathLike, start: str | os.PathLike) -> str:
    """A link from ``start`` (a dir) to ``path`` with forward slashes."""
    return Path(os.path.relpath(Path(path).absolute(), Path(start).absolute())).as_posix()

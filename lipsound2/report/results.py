"""Collect the scores of several evaluation dirs over the test sets and lay out the tables.

Rows are ``LABEL=DIR`` pairs (DIR may contain ``{set}``), in the order given; columns are
test sets, as the paper's tables have one column group per corpus or split. Tables:
speech reconstruction in the layout of Tables III-V (ESTOI, PESQ), every speech metric,
lip reading in the layout of Tables VI-VII (WER or CER; rows + LM and + fine-tuning come
from the ``hyp/asr_lm`` and ``hyp/asr_ft`` files), and the independent judge's WER.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from lipsound2.metrics.scoring import hyp_files, mean_scores, read_speech_tsv, score_text
from lipsound2.metrics.text import metric_for_lang
from lipsound2.report.training import best_validation, experiment_of

# hypothesis file -> row label suffix, in table order
ASR_HYPS = {"asr": "", "asr_ft": " + fine-tuning", "asr_lm": " + LM"}
JUDGE_HYP = "judge"


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


def parse_pair(spec: str) -> tuple[str, str]:
    """``LABEL=VALUE``; the label may hold spaces and parentheses, not ``=``."""
    label, sep, value = spec.partition("=")
    if not sep or not label.strip() or not value.strip():
        raise ValueError(f"expected LABEL=PATH, got {spec!r}")
    return label.strip(), value.strip()


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
            cell = Cell()
            speech = d / "scores" / "speech.tsv"
            if speech.exists():
                cell.speech = mean_scores(read_speech_tsv(speech))
            for name, path in hyp_files(d).items():
                out = d / "scores" / f"{name}_{metric}.tsv"
                out.parent.mkdir(parents=True, exist_ok=True)
                cell.text[name] = score_text(ref_dir / "text", path, metric, out)
            cells[label][set_name] = cell
    training = {}
    for label in dirs:
        exps = {experiment_of(d) for d in dirs[label].values()} - {None}
        if len(exps) == 1 and (stats := best_validation(exps.pop() / "train.log")):
            training[label] = stats
    return Results(list(test_sets), [label for label, _ in rows], dirs, cells, metric, training)


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def tables(res: Results) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, header, rows)`` of every results table (empty tables left out)."""
    out = []
    unit = res.metric.upper()

    def cell(label: str, s: str) -> Cell | None:
        return res.cells[label].get(s)

    speech_labels = [lb for lb in res.labels if any((c := cell(lb, s)) and c.speech for s in res.sets)]
    if speech_labels:
        header = ["Model"] + [f"{s} {m}" for s in res.sets for m in ("ESTOI", "PESQ (NB)")]
        rows = []
        for lb in speech_labels:
            row = [lb]
            for s in res.sets:
                sp = (c.speech if (c := cell(lb, s)) else None) or {}
                row += [_fmt(sp.get("estoi"), 3), _fmt(sp.get("pesq_nb"), 3)]
            rows.append(row)
        out.append(("Speech reconstruction (layout of the paper's Tables III-V)", header, rows))
        for s in res.sets:
            header = ["Model", "utts", "STOI", "ESTOI", "PESQ (NB)", "PESQ (WB)"]
            rows = []
            for lb in speech_labels:
                sp = c.speech if (c := cell(lb, s)) else None
                if sp:
                    rows.append(
                        [lb, str(int(sp["n"]))]
                        + [_fmt(sp[m], 3) for m in ("stoi", "estoi", "pesq_nb", "pesq_wb")]
                    )
            if rows:
                out.append((f"All speech metrics, {s}", header, rows))

    asr_rows = []
    for lb in res.labels:
        for name, suffix in ASR_HYPS.items():
            if any((c := cell(lb, s)) and name in c.text for s in res.sets):
                vals = []
                for s in res.sets:
                    t = c.text.get(name) if (c := cell(lb, s)) else None
                    vals.append(_fmt(t["rate"] if t else None, 2))
                asr_rows.append([lb + suffix, *vals])
    if asr_rows:
        title = f"Cascaded lip reading, {unit} % (layout of the paper's Tables VI-VII)"
        out.append((title, ["Model", *res.sets], asr_rows))

    judge_rows = []
    for lb in res.labels:
        if any((c := cell(lb, s)) and JUDGE_HYP in c.text for s in res.sets):
            vals = []
            for s in res.sets:
                t = c.text.get(JUDGE_HYP) if (c := cell(lb, s)) else None
                vals.append(_fmt(t["rate"] if t else None, 2))
            judge_rows.append([lb, *vals])
    if judge_rows:
        out.append(
            (
                f"Independent judge (Whisper tiny.en, not trained here), {unit} %",
                ["Audio", *res.sets],
                judge_rows,
            )
        )
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

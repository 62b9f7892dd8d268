"""Per-utterance score tables of one evaluation directory, and their set-level summaries.

An evaluation directory holds what one row of a results table is made of:
``wav.scp`` (speech to score against the real audio), ``scores/speech.tsv`` (per-utterance
PESQ/STOI/ESTOI and durations, written by ``lipsound2.bin.score`` jobs), and
``hyp/<name>.txt`` text tables (``asr``: cascade, ``asr_lm``: cascade with the n-gram LM,
``asr_ft``: fine-tuned on real audio, ``judge``: the independent ASR).

Nothing is dropped silently: every utterance of the test set is either scored or counted as
failed (no generated audio, unreadable, a metric that cannot be computed), a missing
hypothesis counts as all deletions, and a generated duration far from the reference's is
counted, since the speech metrics compare only the common length.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm import tqdm

from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.metrics.speech import SAMPLE_RATE, speech_scores
from lipsound2.metrics.text import ErrorCounts, error_counts, pooled_rate

SPEECH_COLUMNS = ("pesq_nb", "pesq_wb", "stoi", "estoi")
# A generated utterance whose duration is off the reference's by more than this share is
# counted: an early stop, or a decoder that missed its stop and ran to the step cap.
DURATION_TOLERANCE = 0.2


@dataclass
class SpeechRow:
    """One utterance's scores, or the reason it has none (``error``)."""

    scores: dict[str, float] = field(default_factory=dict)
    ref_sec: float = math.nan
    gen_sec: float = math.nan
    error: str = ""

    @property
    def duration_ratio(self) -> float:
        """Generated over reference duration (NaN when either is unknown)."""
        return self.gen_sec / self.ref_sec if self.ref_sec > 0 else math.nan


def _one_line(text: str) -> str:
    return " ".join(text.split())


def score_speech(
    ref_wav_scp: str | os.PathLike, hyp_wav_scp: str | os.PathLike, keys: list[str]
) -> dict[str, SpeechRow]:
    """A row per key of ``keys`` (the test set's utterances): scored, or failed with its reason."""
    refs, hyps = read_table(ref_wav_scp), read_table(hyp_wav_scp)
    rows: dict[str, SpeechRow] = {}
    for key in tqdm(keys, desc="score", mininterval=10):
        row = rows[key] = SpeechRow()
        try:
            if key not in refs:
                raise KeyError(f"not in {ref_wav_scp}")
            ref = read_wav(refs[key], SAMPLE_RATE)
            row.ref_sec = len(ref) / SAMPLE_RATE
            if key not in hyps:
                raise KeyError(f"no generated audio in {hyp_wav_scp}")
            hyp = read_wav(hyps[key], SAMPLE_RATE)
            row.gen_sec = len(hyp) / SAMPLE_RATE
            ref = ref / max(float(np.abs(ref).max()), 1e-8)  # the mel's peak normalisation
            scores = speech_scores(ref, hyp).to_dict()
            if undefined := [c for c in SPEECH_COLUMNS if math.isnan(scores[c])]:
                raise ValueError(f"{', '.join(undefined)} undefined (silent or too short?)")
            row.scores = scores
        except Exception as exc:
            row.error = _one_line(f"{hyps.get(key, '-')}: {exc}")
    return rows


def write_speech_tsv(path: str | os.PathLike, rows: dict[str, SpeechRow]) -> None:
    """``utt``, the metrics (``nan`` when failed), durations in seconds and the error, if any."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(("utt", *SPEECH_COLUMNS, "ref_sec", "gen_sec", "error")) + "\n")
        for key in sorted(rows):
            r = rows[key]
            values = [r.scores.get(c, math.nan) for c in SPEECH_COLUMNS] + [r.ref_sec, r.gen_sec]
            f.write("\t".join([key, *(f"{v:.4f}" for v in values), r.error]) + "\n")


def read_speech_tsv(path: str | os.PathLike) -> dict[str, SpeechRow]:
    """Rows of :func:`write_speech_tsv`; a row with an error or an undefined metric is failed."""
    rows: dict[str, SpeechRow] = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")[1:]
        for lineno, line in enumerate(f, 2):
            key, *values = line.rstrip("\n").split("\t")
            if len(values) > len(header):
                raise ValueError(f"{path}:{lineno}: {len(values)} values for {len(header)} columns")
            cols = dict(zip(header, values))
            nums = {c: float(cols[c]) for c in (*SPEECH_COLUMNS, "ref_sec", "gen_sec") if cols.get(c)}
            scores = {c: nums.get(c, math.nan) for c in SPEECH_COLUMNS}
            error = cols.get("error", "")
            if not error and (undefined := [c for c, v in scores.items() if math.isnan(v)]):
                error = f"{', '.join(undefined)} undefined"
            rows[key] = SpeechRow(
                {} if error else scores, nums.get("ref_sec", math.nan), nums.get("gen_sec", math.nan), error
            )
    return rows


def confidence_halfwidth(values: np.ndarray, level: float = 0.95) -> float:
    """Half-width of the ``level`` confidence interval of the mean of ``values`` (Student's t)."""
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))


def summarize_speech(
    rows: dict[str, SpeechRow],
    expected: Collection[str] | None = None,
    tolerance: float = DURATION_TOLERANCE,
) -> dict[str, float]:
    """Means over the scored utterances and what they leave out.

    ``n`` scored of ``expected`` utterances (the test set; default: the rows), ``failed``
    the rest (including those with no row at all); ``<metric>_ci`` the half-width of the
    mean's 95 % confidence interval over utterances (Student's t; NaN below two utterances);
    ``duration_ratio`` the median generated over reference duration and ``duration_off`` how
    many are off by more than ``tolerance``.
    """
    keys = list(rows) if expected is None else list(expected)
    scored = [rows[k] for k in keys if k in rows and not rows[k].error]
    out: dict[str, float] = {
        "n": float(len(scored)),
        "expected": float(len(keys)),
        "failed": float(len(keys) - len(scored)),
    }
    for c in SPEECH_COLUMNS:
        values = np.array([r.scores[c] for r in scored])
        out[c] = float(values.mean()) if scored else math.nan
        out[f"{c}_ci"] = confidence_halfwidth(values)
    ratios = [r.duration_ratio for r in scored if not math.isnan(r.duration_ratio)]
    out["duration_ratio"] = float(np.median(ratios)) if ratios else math.nan
    out["duration_off"] = float(sum(abs(x - 1.0) > tolerance for x in ratios))
    return out


def score_text(
    ref_text: str | os.PathLike,
    hyp_text: str | os.PathLike,
    metric: str,
    out_tsv: str | os.PathLike | None = None,
    rejected: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Pooled error rate of a hypothesis table over every reference utterance.

    A reference with no hypothesis counts as an empty hypothesis, that is all deletions;
    ``n`` hypotheses found of ``expected`` references, ``missing`` the rest. ``rejected``:
    the references of utterances the front end rejected (``text.rejected``), expected too.
    """
    refs, hyps = {**(rejected or {}), **read_table(ref_text)}, read_table(hyp_text)
    counts: dict[str, ErrorCounts] = {k: error_counts(refs[k], hyps.get(k, ""), metric) for k in refs}
    found = sum(k in hyps for k in refs)
    if out_tsv is not None:
        with atomic_open(out_tsv, "w", encoding="utf-8") as f:
            f.write("utt\tsub\tdel\tins\tref_len\trate\tstatus\thyp\n")
            for k, c in counts.items():
                status = "ok" if k in hyps else "missing"
                f.write(
                    f"{k}\t{c.substitutions}\t{c.deletions}\t{c.insertions}\t{c.ref_length}\t{c.rate:.2f}\t"
                    f"{status}\t{hyps.get(k, '')}\n"
                )
    return {
        "rate": pooled_rate(list(counts.values())),
        "n": float(found),
        "expected": float(len(refs)),
        "missing": float(len(refs) - found),
    }


def hyp_files(eval_dir: str | os.PathLike) -> dict[str, Path]:
    """``{name: path}`` of ``hyp/<name>.txt`` in an evaluation dir."""
    hyp_dir = Path(eval_dir) / "hyp"
    return {p.stem: p for p in sorted(hyp_dir.glob("*.txt"))} if hyp_dir.is_dir() else {}

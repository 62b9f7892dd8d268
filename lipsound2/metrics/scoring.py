"""Per-utterance score tables of one evaluation directory, and their set-level summaries.

An evaluation directory holds what one row of a results table is made of:
``wav.scp`` (speech to score against the real audio), ``scores/speech.tsv`` (per-utterance
PESQ/STOI/ESTOI, written by ``lipsound2.bin.score`` jobs), and ``hyp/<name>.txt`` text
tables (``asr``: cascade, ``asr_lm``: cascade with the n-gram LM, ``asr_ft``: fine-tuned
on real audio, ``judge``: the independent ASR).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.metrics.speech import SAMPLE_RATE, speech_scores
from lipsound2.metrics.text import ErrorCounts, error_counts, pooled_rate

SPEECH_COLUMNS = ("pesq_nb", "pesq_wb", "stoi", "estoi")


def score_speech(ref_wav_scp: str | os.PathLike, hyp_wav_scp: str | os.PathLike, keys: list[str]) -> dict:
    """``{utt: {metric: value}}``; an utterance that fails is reported in ``errors``."""
    refs, hyps = read_table(ref_wav_scp), read_table(hyp_wav_scp)
    rows: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for key in tqdm(keys, desc="score", mininterval=10):
        try:
            if key not in refs:
                raise KeyError(f"not in {ref_wav_scp}")
            ref, hyp = read_wav(refs[key], SAMPLE_RATE), read_wav(hyps[key], SAMPLE_RATE)
            ref = ref / max(float(np.abs(ref).max()), 1e-8)  # the mel's peak normalisation
            rows[key] = speech_scores(ref, hyp).to_dict()
        except Exception as exc:
            errors[key] = f"{hyps.get(key, '?')}: {exc}"
    return {"rows": rows, "errors": errors}


def write_speech_tsv(path: str | os.PathLike, rows: dict[str, dict[str, float]]) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write("utt\t" + "\t".join(SPEECH_COLUMNS) + "\n")
        for key in sorted(rows):
            f.write(key + "\t" + "\t".join(f"{rows[key][c]:.4f}" for c in SPEECH_COLUMNS) + "\n")


def read_speech_tsv(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")[1:]
        for line in f:
            key, *values = line.rstrip("\n").split("\t")
            rows[key] = {c: float(v) for c, v in zip(header, values)}
    return rows


def mean_scores(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over utterances (NaN entries skipped) and the count."""
    out: dict[str, float] = {"n": float(len(rows))}
    for c in SPEECH_COLUMNS:
        vals = [r[c] for r in rows.values() if c in r and not math.isnan(r[c])]
        out[c] = float(np.mean(vals)) if vals else math.nan
    return out


def score_text(
    ref_text: str | os.PathLike,
    hyp_text: str | os.PathLike,
    metric: str,
    out_tsv: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Pooled error rate of a hypothesis table (missing hypotheses count as empty)."""
    refs, hyps = read_table(ref_text), read_table(hyp_text)
    counts: dict[str, ErrorCounts] = {
        k: error_counts(refs[k], hyps.get(k, ""), metric) for k in refs if k in hyps
    }
    missing = [k for k in refs if k not in hyps]
    if out_tsv is not None:
        with atomic_open(out_tsv, "w", encoding="utf-8") as f:
            f.write("utt\tsub\tdel\tins\tref_len\trate\thyp\n")
            for k, c in counts.items():
                f.write(
                    f"{k}\t{c.substitutions}\t{c.deletions}\t{c.insertions}\t{c.ref_length}\t{c.rate:.2f}\t"
                )
                f.write(hyps[k] + "\n")
    return {
        "rate": pooled_rate(list(counts.values())),
        "n": float(len(counts)),
        "missing": float(len(missing)),
    }


def hyp_files(eval_dir: str | os.PathLike) -> dict[str, Path]:
    """``{name: path}`` of ``hyp/<name>.txt`` in an evaluation dir."""
    hyp_dir = Path(eval_dir) / "hyp"
    return {p.stem: p for p in sorted(hyp_dir.glob("*.txt"))} if hyp_dir.is_dir() else {}

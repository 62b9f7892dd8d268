"""Word and character error rates with jiwer, per utterance and pooled over a set.

English is scored by WER, Chinese by CER (the paper's convention). Transcripts are
normalised the same way on both sides: upper case, punctuation dropped, spaces collapsed;
for CER spaces are removed, so Chinese with or without word segmentation scores alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import jiwer


@dataclass(frozen=True)
class ErrorCounts:
    """Edit-distance counts of one hypothesis against its reference."""

    substitutions: int
    deletions: int
    insertions: int
    ref_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Error rate in percent (errors over reference length)."""
        return 100.0 * self.errors / max(self.ref_length, 1)


_ONES = [
    "ZERO",
    "ONE",
    "TWO",
    "THREE",
    "FOUR",
    "FIVE",
    "SIX",
    "SEVEN",
    "EIGHT",
    "NINE",
    "TEN",
    "ELEVEN",
    "TWELVE",
    "THIRTEEN",
    "FOURTEEN",
    "FIFTEEN",
    "SIXTEEN",
    "SEVENTEEN",
    "EIGHTEEN",
    "NINETEEN",
]
_TENS = ["_", "_", "TWENTY", "THIRTY", "FORTY", "FIFTY", "SIXTY", "SEVENTY", "EIGHTY", "NINETY"]


def _spell(number: str) -> str:
    """Integers below 100 in words; longer digit strings digit by digit."""
    n = int(number)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return " ".join(_ONES[int(d)] for d in number)


def normalize(text: str) -> str:
    """Upper case, punctuation removed (apostrophes kept), digits spelled out, spaces collapsed.

    Spelling digits matters for off-the-shelf recognisers, which write "X4" where a
    transcript says "X FOUR" (GRID's letter-digit pairs).
    """
    text = unicodedata.normalize("NFKC", text).upper()
    text = "".join(c if c == "'" or not unicodedata.category(c).startswith("P") else " " for c in text)
    text = re.sub(r"(?<=[A-Z])(?=[0-9])|(?<=[0-9])(?=[A-Z])", " ", text)
    text = re.sub(r"\b[0-9]+\b", lambda m: _spell(m.group()), text)
    return re.sub(r"\s+", " ", text).strip()


def metric_for_lang(lang: str) -> str:
    """``wer`` for English (and other space-separated languages), ``cer`` for Chinese."""
    return "cer" if lang in ("zh", "cmn", "zh-cn") else "wer"


def error_counts(ref: str, hyp: str, metric: str = "wer") -> ErrorCounts:
    """Substitutions, deletions, insertions of ``hyp`` against ``ref`` in words or characters."""
    ref_n, hyp_n = normalize(ref), normalize(hyp)
    if metric == "cer":
        ref_units, hyp_units = list(ref_n.replace(" ", "")), list(hyp_n.replace(" ", ""))
    elif metric == "wer":
        ref_units, hyp_units = ref_n.split(), hyp_n.split()
    else:
        raise ValueError(f"unknown metric {metric!r} (wer or cer)")
    if not ref_units:
        return ErrorCounts(0, 0, len(hyp_units), 0)
    if not hyp_units:
        return ErrorCounts(0, len(ref_units), 0, len(ref_units))
    out = jiwer.process_words(" ".join(ref_units), " ".join(hyp_units))
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, len(ref_units))


def pooled_rate(counts: list[ErrorCounts]) -> float:
    """Corpus error rate in percent: all errors over all reference units."""
    return 100.0 * sum(c.errors for c in counts) / max(sum(c.ref_length for c in counts), 1)

"""Speech quality and intelligibility of a generated waveform against the real one.

PESQ (ITU-T P.862, narrowband, and P.862.2, wideband) from the ``pesq`` package; STOI and
extended STOI (ESTOI) from ``pystoi``. Both signals are 16 kHz mono. A generated waveform
rarely has exactly the reference length (vocoders work in whole mel frames), so both are
cut to the shorter one before scoring: the metrics compare time-aligned signals. What the
cut hides (an early stop, a run to the step cap) the set-level tables report from both
durations (``lipsound2.metrics.scoring``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from pesq import pesq
from pystoi import stoi

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SpeechScores:
    """One utterance's scores; NaN where a metric could not be computed."""

    pesq_nb: float
    pesq_wb: float
    stoi: float
    estoi: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _pesq(ref: np.ndarray, deg: np.ndarray, mode: str) -> float:
    try:
        return float(pesq(SAMPLE_RATE, ref, deg, mode))
    except Exception:  # the pesq package raises its own errors for silent or too-short input
        return math.nan


def speech_scores(ref: np.ndarray, deg: np.ndarray, sample_rate: int = SAMPLE_RATE) -> SpeechScores:
    """PESQ-NB, PESQ-WB, STOI and ESTOI of ``deg`` against ``ref`` (float waveforms)."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"scoring expects {SAMPLE_RATE} Hz audio, got {sample_rate}")
    n = min(len(ref), len(deg))
    if n == 0:
        raise ValueError("empty waveform")
    ref = np.asarray(ref[:n], dtype=np.float64)
    deg = np.asarray(deg[:n], dtype=np.float64)
    return SpeechScores(
        pesq_nb=_pesq(ref, deg, "nb"),
        pesq_wb=_pesq(ref, deg, "wb"),
        stoi=float(stoi(ref, deg, SAMPLE_RATE, extended=False)),
        estoi=float(stoi(ref, deg, SAMPLE_RATE, extended=True)),
    )

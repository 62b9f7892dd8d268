"""Phoneme -> viseme -> mouth shape, and the mouth trajectory of an utterance at 25 fps.

Phonemes made with the same lip configuration map to one viseme and so to exactly the same
mouth shape (p/b/m closed, f/v lower lip under the upper teeth, o/u/w rounded, ...): the
generated video carries what lips carry in real speech and no more. Phoneme names are those
of Festival's US/UK voices (the "radio" phone set); unknown names fall back to a neutral,
slightly open mouth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass

import numpy as np


@dataclass(frozen=True)
class MouthShape:
    """Mouth parameters, each 0..1: jaw/lip opening, lip spreading, rounding/protrusion,
    upper teeth shown, tongue shown, lower lip tucked under the upper teeth."""

    open: float = 0.0
    spread: float = 0.0
    round: float = 0.0
    teeth: float = 0.0
    tongue: float = 0.0
    bite: float = 0.0


VISEMES: dict[str, MouthShape] = {
    "rest": MouthShape(),
    "bilabial": MouthShape(open=0.0, spread=0.05),  # p b m
    "labiodental": MouthShape(open=0.12, spread=0.1, teeth=0.6, bite=1.0),  # f v
    "dental": MouthShape(open=0.3, spread=0.2, teeth=0.8, tongue=0.9),  # th dh
    "alveolar": MouthShape(open=0.3, spread=0.3, teeth=0.7, tongue=0.4),  # t d n l s z
    "postalveolar": MouthShape(open=0.3, round=0.55, teeth=0.8),  # sh zh ch jh
    "velar": MouthShape(open=0.4, spread=0.15, teeth=0.3),  # k g ng hh y
    "rounded_cons": MouthShape(open=0.18, round=0.95),  # w r
    "open": MouthShape(open=1.0, spread=0.25, teeth=0.4, tongue=0.2),  # aa ae ah ay aw
    "mid": MouthShape(open=0.6, spread=0.45, teeth=0.6, tongue=0.2),  # eh ey ax er
    "spread": MouthShape(open=0.35, spread=0.9, teeth=0.9),  # iy ih y
    "round_open": MouthShape(open=0.7, round=0.75, teeth=0.2),  # ao ow oy
    "round_close": MouthShape(open=0.3, round=1.0),  # uw uh
}

PHONE_TO_VISEME: dict[str, str] = {
    **dict.fromkeys(["pau", "sil", "h#", "#", "_"], "rest"),
    **dict.fromkeys(["p", "b", "m", "em"], "bilabial"),
    **dict.fromkeys(["f", "v"], "labiodental"),
    **dict.fromkeys(["th", "dh"], "dental"),
    **dict.fromkeys(["t", "d", "n", "en", "l", "el", "s", "z", "dx", "nx"], "alveolar"),
    **dict.fromkeys(["sh", "zh", "ch", "jh"], "postalveolar"),
    **dict.fromkeys(["k", "g", "ng", "hh", "h"], "velar"),
    **dict.fromkeys(["w", "r"], "rounded_cons"),
    **dict.fromkeys(["aa", "ae", "ah", "ay", "aw", "a", "aa1"], "open"),
    **dict.fromkeys(["eh", "ey", "ax", "er", "axr", "e", "@"], "mid"),
    **dict.fromkeys(["iy", "ih", "y", "i", "ii"], "spread"),
    **dict.fromkeys(["ao", "ow", "oy", "o", "oo"], "round_open"),
    **dict.fromkeys(["uw", "uh", "u", "uu"], "round_close"),
}
NEUTRAL = MouthShape(open=0.25, spread=0.2, teeth=0.3)


def viseme_of(phone: str) -> str:
    """The viseme class name of a phone ('neutral' when unknown)."""
    return PHONE_TO_VISEME.get(phone.lower().rstrip("012"), "neutral")


def shape_of(phone: str) -> MouthShape:
    """The mouth shape of a phone: one shape per viseme class."""
    name = viseme_of(phone)
    return VISEMES.get(name, NEUTRAL)


def mouth_track(
    segments: Sequence[tuple[str, float, float]], num_frames: int, fps: float = 25.0, smooth_s: float = 0.02
) -> list[MouthShape]:
    """Mouth shape per video frame from ``(phone, start_s, end_s)`` segments.

    A 1 ms target track (each phone's shape over its span, rest outside) is smoothed with a
    Gaussian of ``smooth_s`` seconds (coarticulation) and sampled at the frame centres.
    Bilabial closures keep their full closure: their frames take the closed shape.
    """
    step = 0.001
    n = int(np.ceil(num_frames / fps / step)) + 1
    rest = np.asarray(astuple(VISEMES["rest"]), np.float32)
    target = np.tile(rest, (n, 1))
    closed = np.zeros(n, bool)
    for phone, start, end in segments:
        a, b = int(round(start / step)), int(round(end / step))
        target[max(a, 0) : min(b, n)] = astuple(shape_of(phone))
        if viseme_of(phone) == "bilabial":
            closed[max(a, 0) : min(b, n)] = True
    radius = int(3 * smooth_s / step)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) * step / smooth_s) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(target, ((radius, radius), (0, 0)), mode="edge")
    smooth = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(target.shape[1])], 1)
    shapes = []
    for i in range(num_frames):
        j = min(int(round((i + 0.5) / fps / step)), n - 1)
        values = target[j] if closed[j] else smooth[j]
        shapes.append(MouthShape(*(float(v) for v in values)))
    return shapes

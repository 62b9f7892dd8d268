"""Offline speech synthesis with Festival, keeping the synthesiser's own phone and word timings.

One Festival process synthesises all sentences of one speaker. A speaker is a Festival voice
plus a duration stretch and a "vocal tract" warp: the waveform is resampled as if it had been
recorded at ``warp`` times its rate, which raises (warp > 1) or lowers pitch and formants
together and shortens or lengthens it; the timings are scaled with it, so they stay exact.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts", "ked_diphone")

# Festival reads a lone "a" as the article; GRID's letter "a" is said "ey".
_LETTER_A = "gridlettera"


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker: Festival voice, duration stretch (>1 slower) and spectral warp."""

    festival_voice: str
    stretch: float = 1.0
    warp: float = 1.0


@dataclass
class Utterance:
    """A synthesised sentence: waveform, phone and word segments in seconds."""

    words: list[str]
    audio: np.ndarray  # float32 mono
    rate: int
    phones: list[tuple[str, float, float]]
    word_times: list[tuple[str, float, float]]


def festival_available(voice: str) -> bool:
    """True when the festival binary and the named voice are installed."""
    if shutil.which("festival") is None:
        return False
    return any(
        Path(p).is_dir()
        for p in (f"/usr/share/festival/voices/english/{voice}", f"/usr/share/festival/voices/us/{voice}")
    )


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _script(voice: Voice, sentences: list[list[str]], wav_dir: Path, letters: bool) -> str:
    lines = [
        f"(voice_{voice.festival_voice})",
        f"(Parameter.set 'Duration_Stretch {voice.stretch:.4f})",
        f'(lex.add.entry \'("{_LETTER_A}" nn (((ey) 1))))',
    ]
    for i, words in enumerate(sentences):
        text = " ".join(_LETTER_A if letters and w == "a" else w for w in words)
        lines += [
            f"(set! u (utt.synth (eval (list 'Utterance 'Text {_scheme_string(text)}))))",
            f"(utt.save.wave u {_scheme_string(str(wav_dir / f'{i}.wav'))} 'riff)",
            f'(format t "UTT {i}\\n")',
            '(mapcar (lambda (s) (format t "SEG %s %f\\n" (item.name s) (item.feat s "end")))'
            " (utt.relation.items u 'Segment))",
            '(mapcar (lambda (s) (format t "WORD %s %f\\n" (item.name s) (item.feat s "word_end")))'
            " (utt.relation.items u 'Word))",
        ]
    return "\n".join(lines) + "\n"


def _parse(stdout: str, count: int) -> list[tuple[list[tuple[str, float]], list[tuple[str, float]]]]:
    result: list[tuple[list, list]] = []
    for line in stdout.splitlines():
        m = re.match(r"^(UTT|SEG|WORD) (\S+)(?: (\S+))?$", line)
        if not m:
            continue
        kind, name, value = m.groups()
        if kind == "UTT":
            result.append(([], []))
        elif result:
            result[-1][0 if kind == "SEG" else 1].append((name, float(value)))
    if len(result) != count:
        raise RuntimeError(f"festival returned {len(result)} utterances for {count} sentences")
    return result


def _word_spans(
    words: list[str], segs: list[tuple[str, float]], word_ends: list[tuple[str, float]]
) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]:
    """Phone spans (start, end) and word spans: a word covers its non-pause phones."""
    phones, start = [], 0.0
    for name, end in segs:
        phones.append((name, start, end))
        start = end
    if len(word_ends) != len(words):
        raise RuntimeError(f"festival split {' '.join(words)!r} into {len(word_ends)} words")
    spans, prev_end = [], 0.0
    for word, (_, end) in zip(words, word_ends):
        inside = [p for p in phones if p[0] != "pau" and prev_end + 1e-6 < p[2] <= end + 1e-6]
        begin = inside[0][1] if inside else prev_end
        spans.append((word, begin, end))
        prev_end = end
    return phones, spans


def _warp_audio(audio: np.ndarray, rate: int, warp: float, out_rate: int) -> np.ndarray:
    """Resample ``audio`` recorded at ``rate * warp`` to ``out_rate``."""
    ratio = Fraction(out_rate) / Fraction(rate * warp).limit_denominator(1000)
    ratio = ratio.limit_denominator(2000)
    return resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)


def synthesize(
    voice: Voice, sentences: list[list[str]], out_rate: int = 16000, letters: bool = False
) -> list[Utterance]:
    """Synthesise ``sentences`` (lists of lower-case words) with one Festival process.

    ``letters``: a lone "a" is the letter (GRID's grammar has no article), not the article.
    """
    with tempfile.TemporaryDirectory(prefix="festival") as tmp:
        wav_dir = Path(tmp)
        script = wav_dir / "script.scm"
        script.write_text(_script(voice, sentences, wav_dir, letters), encoding="utf-8")
        proc = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"festival failed for voice {voice.festival_voice}: {proc.stderr[-500:]}")
        parsed = _parse(proc.stdout, len(sentences))
        utts = []
        for i, (words, (segs, word_ends)) in enumerate(zip(sentences, parsed)):
            audio, rate = sf.read(wav_dir / f"{i}.wav", dtype="float32")
            if audio.ndim > 1:
                audio = audio.mean(axis=1)
            phones, spans = _word_spans(words, segs, word_ends)
            k = 1.0 / voice.warp
            utts.append(
                Utterance(
                    words=list(words),
                    audio=_warp_audio(audio, rate, voice.warp, out_rate),
                    rate=out_rate,
                    phones=[(p, a * k, b * k) for p, a, b in phones],
                    word_times=[(w, a * k, b * k) for w, a, b in spans],
                )
            )
    return utts

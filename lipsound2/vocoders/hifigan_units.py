"""HiFi-GAN fed the log-mel and the speech units together (the speech-units paper's vocoder).

Each mel frame is joined with a learned embedding of its unit (one unit per mel frame, as
stage 2 writes them), and the ESPnet generator of ``hifigan.py`` upsamples the
``n_mels + dim`` channels to ``hop`` samples per frame. A blurry predicted mel then still has
the units' sharp phonetic content to go on.

With a ``speaker`` section in its config (the paper's optional speaker input), a learned
linear projection of a 256-d GE2E speaker embedding (``speaker.py``) to ``speaker_dim``
channels joins every frame as well, and the checkpoint keeps the training speakers' mean
embeddings: an utterance is vocoded with its speaker's, a speaker the vocoder never saw with
the global mean.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.griffin_lim import output_length
from lipsound2.vocoders.hifigan import UNITS_CHECKPOINT_FORMAT, build_generator, load_checkpoint
from lipsound2.vocoders.speaker import EMBED_DIM, SpeakerTable


class UnitMelGenerator(torch.nn.Module):
    """``(B, n_mels, T)`` mel and ``(B, T)`` units (and with ``speaker_dim`` > 0 ``(B, 256)``
    speaker embeddings) to ``(B, 1, T * hop)`` waveform."""

    def __init__(
        self, k: int, dim: int, generator_params: dict[str, Any], config: MelConfig, speaker_dim: int = 0
    ) -> None:
        super().__init__()
        if k < 1 or dim < 1 or speaker_dim < 0:
            raise ValueError(
                f"unit embedding needs k >= 1, dim >= 1 and speaker dim >= 0, "
                f"got k {k}, dim {dim}, speaker dim {speaker_dim}"
            )
        self.k = k
        self.embedding = torch.nn.Embedding(k, dim)
        self.speaker = torch.nn.Linear(EMBED_DIM, speaker_dim) if speaker_dim else None
        channels = config.n_mels + dim + speaker_dim
        self.hifigan = build_generator({**generator_params, "in_channels": channels}, config)

    def forward(
        self, mel: torch.Tensor, units: torch.Tensor, speaker: torch.Tensor | None = None
    ) -> torch.Tensor:
        if units.shape != (mel.shape[0], mel.shape[2]):
            raise ValueError(f"units {tuple(units.shape)} do not match mel {tuple(mel.shape)} (B, n_mels, T)")
        inputs = [mel, self.embedding(units).transpose(1, 2)]
        if (speaker is None) != (self.speaker is None):
            raise ValueError("a speaker embedding goes in exactly when the generator has a speaker input")
        if self.speaker is not None:
            if speaker.shape != (mel.shape[0], EMBED_DIM):
                raise ValueError(
                    f"speaker embeddings {tuple(speaker.shape)}, expected ({mel.shape[0]}, {EMBED_DIM})"
                )
            inputs.append(self.speaker(speaker).unsqueeze(2).expand(-1, -1, mel.shape[2]))
        return self.hifigan(torch.cat(inputs, dim=1))


class HiFiGANUnitsVocoder:
    """Log-mel ``(frames, n_mels)`` and units ``(frames,)`` to a waveform of
    ``(frames - 1) * hop`` samples, as the mel-only vocoders give.

    ``mel``: the settings of the features to vocode; a checkpoint trained on other settings
    raises ``ValueError`` naming each difference (None: the checkpoint's own settings).
    ``speakers``: the training speakers' table of a vocoder with a speaker input, else None.
    """

    def __init__(self, checkpoint: str | os.PathLike, mel: MelConfig | None = None) -> None:
        state = load_checkpoint(checkpoint, UNITS_CHECKPOINT_FORMAT, mel)
        self.config = MelConfig(**state["mel"])
        self.k, dim = int(state["units"]["k"]), int(state["units"]["dim"])
        speaker = state.get("speaker")
        self.speakers = SpeakerTable.from_state(speaker) if speaker is not None else None
        speaker_dim = int(speaker["dim"]) if speaker is not None else 0
        self.generator = UnitMelGenerator(self.k, dim, state["generator_params"], self.config, speaker_dim)
        self.generator.load_state_dict(state["generator"])
        self.generator.hifigan.remove_weight_norm()
        self.generator.eval()
        self.steps = int(state["steps"])

    def __call__(
        self, log_mel: np.ndarray, units: np.ndarray, speaker: str | np.ndarray | None = None
    ) -> np.ndarray:
        """``speaker`` (a vocoder with a speaker input only): a training speaker's id, a 256-d
        embedding, or None for the global mean; an unknown id gets the global mean."""
        embedding = self._speaker_embedding(speaker)
        mel = torch.from_numpy(np.array(log_mel, dtype=np.float32))  # a copy: ark arrays are read-only
        if mel.ndim != 2 or mel.shape[1] != self.config.n_mels:
            raise ValueError(f"expected a (frames, {self.config.n_mels}) mel, got {tuple(mel.shape)}")
        units = np.asarray(units)
        if units.ndim != 1 or len(units) != len(mel):
            raise ValueError(f"{units.shape[0] if units.ndim else 0} units for {len(mel)} mel frames")
        in_range = not len(units) or (units.min() >= 0 and units.max() < self.k)
        if not np.issubdtype(units.dtype, np.integer) or not in_range:
            raise ValueError(
                f"units must be integers in 0..{self.k - 1} (the vocoder's k), "
                f"got {units.dtype} {units.min() if len(units) else ''}..{units.max() if len(units) else ''}"
            )
        with torch.no_grad():
            wav = self.generator(
                mel.T.unsqueeze(0), torch.from_numpy(units.astype(np.int64)).unsqueeze(0), embedding
            )
        return wav.reshape(-1)[: output_length(len(mel), self.config)].numpy().astype(np.float32)

    def _speaker_embedding(self, speaker: str | np.ndarray | None) -> torch.Tensor | None:
        """``(1, 256)`` embedding for the generator, None for one without a speaker input."""
        if self.speakers is None:
            if speaker is not None:
                raise ValueError("this vocoder has no speaker input (its config had no speaker section)")
            return None
        embedding = speaker if isinstance(speaker, np.ndarray) else self.speakers(speaker)
        if embedding.shape != (EMBED_DIM,):
            raise ValueError(f"a speaker embedding is {EMBED_DIM}-d, got shape {embedding.shape}")
        return torch.from_numpy(np.asarray(embedding, dtype=np.float32)).unsqueeze(0)

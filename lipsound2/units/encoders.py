"""Content encoders: one utterance in, frame features ``(frames, dim)`` out, at a stated rate.

Every encoder says where its frames lie in time (:attr:`ContentEncoder.period`, the seconds
between frames, and :attr:`ContentEncoder.first_centre`, the centre of frame 0), so that
:func:`align_to_mel` can give each mel frame the nearest encoder frame whatever the encoder's
rate. The offline ones:

- ``logmel``: the recipe's own mel features (``feats.scp`` of stage 2), the identity alignment;
- ``mfcc``: 13 MFCCs with deltas and delta-deltas (39 dims, the features HuBERT's first
  iteration clusters) from the 16 kHz audio, 25 ms window, at the mel's hop, so one per mel frame;
- ``hubert`` / ``wav2vec2``: a checkpoint the user brings, a state dict of torchaudio's
  wav2vec 2.0 model class, and the output of one transformer layer (50 Hz for the base models:
  20 ms hop, 25 ms receptive field).
- ``whisper``: the final encoder output of a CTranslate2 Whisper model (by default the pinned
  tiny.en the judge runs: 384 dims, 50 Hz), offline. CTranslate2 returns the last layer only.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.decode import load_audio
from lipsound2.frontend.mel import MelConfig

UNIT_TYPES = ("logmel", "mfcc", "hubert", "wav2vec2", "whisper")
DEFAULT_SSL_LAYER = 6  # hubert/wav2vec2 when no layer is given: the speech-units paper's


class EncoderError(ValueError):
    """An encoder that cannot be built (a missing or unusable checkpoint); names the file."""


@dataclass(frozen=True)
class Sources:
    """Where one utterance's inputs are: its ``wav.scp`` and ``feats.scp`` values."""

    wav: str | None = None
    feats: str | None = None


class ContentEncoder(abc.ABC):
    """Frame features of one utterance; subclasses set the frame timing below."""

    #: seconds between frames
    period: float
    #: time of the centre of frame 0, in seconds
    first_centre: float = 0.0
    #: the :class:`Sources` field it reads ("wav" or "feats")
    reads: str = "wav"

    @abc.abstractmethod
    def features(self, sources: Sources) -> np.ndarray:
        """``(frames, dim)`` float32 features; ``ValueError``/``OSError`` for unreadable input."""

    @property
    def frames_per_second(self) -> float:
        return 1.0 / self.period

    def describe(self) -> dict:
        """What the units' yaml records about this encoder."""
        return {"frames_per_second": round(self.frames_per_second, 6), "first_centre_s": self.first_centre}


class LogMelEncoder(ContentEncoder):
    """The stage 2 mel features as they are (centred STFT: frame ``i`` at ``i * hop``)."""

    reads = "feats"

    def __init__(self, mel: MelConfig) -> None:
        self.period = mel.hop_length / mel.sample_rate

    def features(self, sources: Sources) -> np.ndarray:
        if sources.feats is None:
            raise ValueError("no feats.scp entry")
        return np.asarray(load_array(sources.feats), dtype=np.float32)


class MfccEncoder(ContentEncoder):
    """39-dim MFCC + deltas at the mel's hop (centred STFT), from the peak-normalised audio as
    the mel is, with a 25 ms window: one frame per mel frame."""

    def __init__(self, mel: MelConfig, n_mfcc: int = 13, n_mels: int = 40) -> None:
        self.sample_rate = mel.sample_rate
        self.period = mel.hop_length / mel.sample_rate
        win = int(round(0.025 * mel.sample_rate))
        self.mfcc = torchaudio.transforms.MFCC(
            sample_rate=mel.sample_rate,
            n_mfcc=n_mfcc,
            melkwargs={
                "n_fft": max(win, 2 ** int(np.ceil(np.log2(win)))),
                "win_length": win,
                "hop_length": mel.hop_length,
                "n_mels": n_mels,
                "f_min": mel.f_min,
                "f_max": mel.f_max,
                "center": True,
                "pad_mode": "reflect",
            },
        )

    def features(self, sources: Sources) -> np.ndarray:
        if sources.wav is None:
            raise ValueError("no wav.scp entry")
        wav = torch.from_numpy(load_audio(sources.wav, self.sample_rate))
        wav = wav / wav.abs().max().clamp_min(1e-8)
        with torch.no_grad():
            c = self.mfcc(wav)  # (n_mfcc, frames)
            d1 = torchaudio.functional.compute_deltas(c)
            d2 = torchaudio.functional.compute_deltas(d1)
        return torch.cat([c, d1, d2]).T.numpy().astype(np.float32)


class SslEncoder(ContentEncoder):
    """One transformer layer (1-based) of a HuBERT or wav2vec 2.0 model in torchaudio's class.

    ``checkpoint``: a state dict of :func:`torchaudio.models.wav2vec2_model` (torchaudio's own
    released HuBERT/wav2vec 2.0 files are such dicts). ``config``: a YAML of that function's
    keyword arguments; without it the base architecture of ``kind`` (``hubert_base`` or
    ``wav2vec2_base``). The waveform is fed as it is, 16 kHz, as the base models were trained.
    """

    sample_rate = 16000

    def __init__(
        self,
        kind: str,
        checkpoint: str | os.PathLike,
        layer: int,
        config: str | os.PathLike | None = None,
        device: str = "cpu",
    ) -> None:
        checkpoint = Path(checkpoint)
        if config is not None:
            try:
                model = torchaudio.models.wav2vec2_model(**load_yaml(config))
            except (OSError, TypeError, ValueError) as exc:
                raise EncoderError(f"{config}: not a wav2vec2_model config: {exc}") from exc
        elif kind == "hubert":
            model = torchaudio.models.hubert_base()
        elif kind == "wav2vec2":
            model = torchaudio.models.wav2vec2_base()
        else:
            raise EncoderError(f"unknown self-supervised encoder '{kind}'")
        if not checkpoint.is_file():
            raise EncoderError(f"{checkpoint}: no such {kind} checkpoint")
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a file that is not a checkpoint
            raise EncoderError(f"{checkpoint}: cannot load the {kind} checkpoint ({exc})") from exc
        if not isinstance(state, dict):
            raise EncoderError(f"{checkpoint}: expected a state dict, got {type(state).__name__}")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = " ".join(str(exc).split())[:400]
            raise EncoderError(
                f"{checkpoint}: does not fit torchaudio's {kind} model (give --encoder_config "
                f"for another architecture): {first}"
            ) from exc
        num_layers = len(model.encoder.transformer.layers)
        if not 1 <= layer <= num_layers:
            raise EncoderError(f"{checkpoint}: layer {layer} outside 1..{num_layers}")
        self.layer = layer
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        # frame timing from the convolutional feature extractor: its total stride is the hop,
        # its receptive field the window whose centre is frame 0's
        hop, field = 1, 1
        for block in model.feature_extractor.conv_layers:
            kernel, stride = block.conv.kernel_size[0], block.conv.stride[0]
            field += (kernel - 1) * hop
            hop *= stride
        self.period = hop / self.sample_rate
        self.first_centre = field / 2 / self.sample_rate
        self.min_samples = field

    def features(self, sources: Sources) -> np.ndarray:
        if sources.wav is None:
            raise ValueError("no wav.scp entry")
        wav = load_audio(sources.wav, self.sample_rate)
        if len(wav) < self.min_samples:
            raise ValueError(f"{len(wav)} samples, fewer than the encoder's window of {self.min_samples}")
        with torch.inference_mode():
            x = torch.from_numpy(wav).to(self.device)[None]
            out, _ = self.model.extract_features(x, num_layers=self.layer)
        return out[-1][0].float().cpu().numpy()

    def describe(self) -> dict:
        return {**super().describe(), "layer": self.layer}


class WhisperEncoder(ContentEncoder):
    """The last encoder layer of a CTranslate2 Whisper model (faster-whisper), 50 frames/s.

    Whisper's encoder reads 30 s of its own log-mel (10 ms hop, centred STFT) and halves the
    rate with a stride-2 convolution, so output frame ``j`` is centred on Whisper mel frame
    ``2 j``, at ``20 j`` ms. Each 30 s chunk of the utterance is zero-padded to 30 s as Whisper
    was trained, and the output is cut to the frames of the real audio. The waveform is
    peak-normalised first, as the recipe's mel is, since Whisper's log-mel keeps the level.
    Weights run as int8, as the judge runs them; the output is the same for the same input.
    """

    first_centre = 0.0

    def __init__(self, model_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        from faster_whisper import WhisperModel

        from lipsound2.asr.judge import whisper_model_dir

        try:
            self.model_dir = whisper_model_dir(model_dir)
        except (OSError, ImportError) as exc:
            raise EncoderError(str(exc)) from exc
        kind, _, index = device.partition(":")
        try:
            self.model = WhisperModel(
                str(self.model_dir),
                device=kind,
                device_index=int(index or 0),
                compute_type="int8",
                cpu_threads=torch.get_num_threads(),
            )
        except (RuntimeError, ValueError) as exc:
            raise EncoderError(f"{self.model_dir}: cannot load the Whisper model ({exc})") from exc
        extractor = self.model.feature_extractor
        self.sample_rate = extractor.sampling_rate
        self.chunk_frames = extractor.nb_max_frames  # 3000 mel frames = 30 s
        # the encoder's two convolutions: stride 1, then stride 2
        self.period = 2 * extractor.hop_length / self.sample_rate

    def features(self, sources: Sources) -> np.ndarray:
        import ctranslate2

        if sources.wav is None:
            raise ValueError("no wav.scp entry")
        wav = load_audio(sources.wav, self.sample_rate)
        if len(wav) == 0:
            raise ValueError("empty audio")
        wav = wav / max(float(np.abs(wav).max()), 1e-8)
        mel = self.model.feature_extractor(wav)[:, :-1]  # as faster-whisper: drop the padding frame
        chunks, keep = [], []
        for start in range(0, mel.shape[1], self.chunk_frames):
            part = mel[:, start : start + self.chunk_frames]
            keep.append((part.shape[1] + 1) // 2)
            chunks.append(np.pad(part, ((0, 0), (0, self.chunk_frames - part.shape[1]))))
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(chunks), dtype=np.float32))
        out = np.asarray(self.model.model.encode(batch, to_cpu=True))
        return np.concatenate([o[:n] for o, n in zip(out, keep)]).astype(np.float32)

    def describe(self) -> dict:
        return {**super().describe(), "layer": "last", "model_dir": str(self.model_dir)}


def make_encoder(
    unit_type: str,
    mel: MelConfig,
    checkpoint: str | os.PathLike | None = None,
    layer: int | None = None,
    config: str | os.PathLike | None = None,
    device: str = "cpu",
) -> ContentEncoder:
    """The encoder ``unit_type`` names (one of :data:`UNIT_TYPES`).

    ``layer``: hubert/wav2vec2's transformer layer (None: :data:`DEFAULT_SSL_LAYER`); whisper
    takes none, since CTranslate2 gives only the encoder's last layer, and asking for another
    is refused rather than quietly giving the last one. ``checkpoint``: for whisper, another
    CTranslate2 Whisper dir (default: the judge's tiny.en).
    """
    if unit_type == "logmel":
        return LogMelEncoder(mel)
    if unit_type == "mfcc":
        return MfccEncoder(mel)
    if unit_type in ("hubert", "wav2vec2"):
        if not checkpoint:
            raise EncoderError(f"unit type {unit_type} needs a checkpoint (--encoder_file)")
        layer = DEFAULT_SSL_LAYER if layer is None else layer
        return SslEncoder(unit_type, checkpoint, layer, config, device)
    if unit_type == "whisper":
        if layer is not None:
            raise EncoderError(
                f"unit type whisper takes no layer (got {layer}): CTranslate2 gives only the "
                "encoder's last layer; leave the layer option out"
            )
        return WhisperEncoder(checkpoint, device)
    raise EncoderError(f"unknown unit type '{unit_type}'; one of {', '.join(UNIT_TYPES)}")


def align_to_mel(units: np.ndarray, encoder: ContentEncoder, num_mel: int, mel: MelConfig) -> np.ndarray:
    """Resample a per-frame sequence of ``encoder`` onto ``num_mel`` mel frames: each mel frame
    (centred STFT, frame ``i`` at ``i * hop``) takes the encoder frame whose centre is nearest.

    Raises ``ValueError`` when the two cover durations further apart than two frames, which
    means the features and the audio are not of the same utterance.
    """
    mel_period = mel.hop_length / mel.sample_rate
    src_end = encoder.first_centre + (len(units) - 1) * encoder.period
    mel_end = (num_mel - 1) * mel_period
    if len(units) == 0 or abs(src_end - mel_end) > 2 * max(encoder.period, mel_period):
        raise ValueError(
            f"{len(units)} encoder frames at {encoder.frames_per_second:g}/s span {src_end:.3f} s "
            f"but {num_mel} mel frames span {mel_end:.3f} s"
        )
    times = np.arange(num_mel) * mel_period
    index = np.rint((times - encoder.first_centre) / encoder.period).astype(np.int64)
    return units[np.clip(index, 0, len(units) - 1)]

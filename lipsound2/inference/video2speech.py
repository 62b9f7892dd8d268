"""Face track in, speech out: the one inference path of a trained LipSound2 model.

:class:`Video2Speech` holds the network (with the de-normalisation of its mel), the front-end
settings it was trained with and a vocoder. Stage 5 (``lipsound2.bin.infer``) decodes through
:meth:`Video2Speech.mel`, and stage 6 (``lipsound2.bin.vocode``) builds its vocoder with the
same factory, so the Python API gives the recipe's mel and wav for the same track, options and
seed.

Each utterance draws the PreNet's inference dropout (kept at inference, as in Tacotron 2)
from its own generator, seeded from ``seed`` and its key: its result does not depend on the
batch it is decoded in. The exception is int8 weights, whose dynamic quantisation takes one
scale per batch (docs/network.md, "Inference").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lipsound2.frontend.config import FrontendConfig
from lipsound2.frontend.config import load_config as load_frontend_config
from lipsound2.inference.batching import length_sorted_batches, utterance_generator
from lipsound2.inference.options import INFERENCE_DEFAULTS, load_inference_config
from lipsound2.inference.pack import unpack
from lipsound2.nets.precision import with_precision
from lipsound2.nets.unit_head import UnitHead
from lipsound2.tasks.checkpoint import load_model
from lipsound2.tasks.preprocess import FaceTrackPreprocessor
from lipsound2.vocoders.factory import build_vocoder
from lipsound2.vocoders.factory import load_config as load_vocoder_config
from lipsound2.vocoders.types import UNIT_TYPES

PathLike = str | os.PathLike
log = logging.getLogger(__name__)


def device_precision(device: torch.device, precision: str) -> str:
    """The weight precision that runs on ``device``: int8 (dynamic quantisation, a CPU
    setting that recipe packs and inference configs carry) becomes fp32 on a GPU."""
    if device.type != "cpu" and precision == "int8":
        log.warning("int8 weights run on the CPU only: decoding in fp32 on %s", device)
        return "fp32"
    return precision


@dataclass
class MelResult:
    """The network's output for one utterance: ``mel`` float32 ``(frames, n_mels)`` on the
    front end's log-mel scale (de-normalised), ``attention`` float32 ``(decoder steps, encoder
    frames)``, and from a model with a unit head ``units`` int32 ``(frames,)``, the predicted
    speech unit of each mel frame (None without one)."""

    mel: np.ndarray
    attention: np.ndarray
    units: np.ndarray | None = None


@dataclass
class Speech:
    """One utterance's speech: ``wav`` float32 at ``rate`` Hz, and the ``mel``, ``attention``
    and ``units`` it was vocoded from (as in :class:`MelResult`)."""

    wav: np.ndarray
    rate: int
    mel: np.ndarray
    attention: np.ndarray
    units: np.ndarray | None = None


class Video2Speech:
    """A trained model with its front-end settings and vocoder, ready to decode face tracks.

    Args:
        train_config, model_file: the experiment's ``config.yaml`` and model file.
        frontend_config: the front-end YAML the model's features were made with (None: the
            experiment's ``frontend.yaml`` beside ``train_config``, else the defaults; one that
            differs from that file in the mel or video.fps is refused, see
            :func:`~lipsound2.tasks.checkpoint.model_frontend`); its crop is what a user's
            video must get, its mel what the vocoder takes.
        vocoder_type: ``griffin_lim``, ``hifigan``, ``hifigan_units`` (mel + the network's
            predicted units: needs a model with a unit head of the vocoder's k), or None for
            the network alone (:meth:`mel` only).
        vocoder_config, vocoder_file: the vocoder YAML and HiFi-GAN checkpoint. A units
            vocoder with a speaker input speaks with :attr:`speaker_embedding`: None (the
            default) is the mean speaker of its training set; :meth:`use_speaker_wav` sets it
            from a recording of the voice wanted.
        stats_file: the mel statistics of a model that normalises its targets, in place of
            the path its config recorded.
        device: ``cpu`` or ``cuda`` (the vocoder runs on the CPU).
        precision: weights of the Linear layers, see :mod:`lipsound2.nets.precision`.
        stop_mode, max_decode_steps: None: the model's own.
        seed: seed of the PreNet's inference dropout, with each utterance's key.
        num_threads: torch's CPU threads (None: leave them as they are).
        batch_size: utterances decoded together by :meth:`mel` and :meth:`batch`.
    """

    def __init__(
        self,
        train_config: PathLike,
        model_file: PathLike,
        frontend_config: PathLike | None = None,
        vocoder_type: str | None = "griffin_lim",
        vocoder_config: PathLike | None = None,
        vocoder_file: PathLike | None = None,
        stats_file: PathLike | None = None,
        device: str = "cpu",
        precision: str = INFERENCE_DEFAULTS["precision"],
        stop_mode: str | None = INFERENCE_DEFAULTS["stop_mode"],
        max_decode_steps: int | None = INFERENCE_DEFAULTS["max_decode_steps"],
        seed: int = INFERENCE_DEFAULTS["seed"],
        num_threads: int | None = None,
        batch_size: int = INFERENCE_DEFAULTS["batch_size"],
    ) -> None:
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device}: torch sees no CUDA GPU on this machine; use device='cpu'")
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        model, train_args = load_model(train_config, model_file, frontend_config, stats_file)
        self.frontend: FrontendConfig = load_frontend_config(train_args.frontend_config)
        self.sample_rate: int = self.frontend.mel.sample_rate
        self.fps: float = self.frontend.video.fps
        self.model = with_precision(model.to(self.device), device_precision(self.device, precision))
        self.preprocess = FaceTrackPreprocessor(
            train=False,
            channels=model.in_channels,
            blank_video=bool(getattr(train_args, "blank_video", False)),
            blank_value=float(getattr(train_args, "blank_value", 128.0)),
        )
        self.stop_mode, self.max_decode_steps = stop_mode, max_decode_steps
        self.seed, self.batch_size = int(seed), int(batch_size)
        self.vocoder = None
        if vocoder_type is not None:
            config = load_vocoder_config(vocoder_config)
            self.vocoder = build_vocoder(vocoder_type, config, self.frontend.mel, vocoder_file)
        self.needs_units = vocoder_type in UNIT_TYPES
        if self.needs_units:
            _check_unit_head(model.unit_head, self.vocoder.k, vocoder_type, vocoder_file, model_file)
        self.speaker_embedding: np.ndarray | None = None
        self.meta: dict[str, Any] | None = None  # a packed model's meta.yaml

    @classmethod
    def from_pretrained(
        cls, pack: PathLike, cache_dir: PathLike | None = None, **overrides: Any
    ) -> Video2Speech:
        """A model packed by ``lipsound2.bin.pack``, decoding with the options stage 5 used
        (the pack's inference config) unless ``overrides`` (arguments of the class) say otherwise.

        The pack is unpacked into ``cache_dir`` (default: ``<pack>.unpacked`` beside it) after
        its members were checked against their sha256 and its versions against this
        installation; see :func:`lipsound2.inference.pack.unpack`.
        """
        files, meta = unpack(pack, cache_dir)
        inference = files.pop("inference_config", None)
        options = load_inference_config(inference) if inference is not None else {}
        v2s = cls(**{**files, "vocoder_type": meta["vocoder_type"], **options, **overrides})
        v2s.meta = meta
        return v2s

    def __call__(self, track: np.ndarray, key: str = "utt") -> Speech:
        """Speech of one uint8 face track ``(T, S, S[, 3])`` as stage 1 writes it; ``key`` seeds
        its dropout (with ``seed``) and names it in errors."""
        return self.batch({key: track})[key]

    def batch(
        self, tracks: Mapping[str, np.ndarray], failed: dict[str, Exception] | None = None
    ) -> dict[str, Speech]:
        """Speech of every track, decoded in length-sorted batches; one result per key.

        An utterance that cannot be decoded or vocoded raises an error naming it, or, with
        ``failed`` given, is put there (key -> the error) while the others go on."""
        if self.vocoder is None:
            raise ValueError("this Video2Speech has no vocoder (vocoder_type None): use mel()")
        speech = {}
        for key, result in self.mel(tracks, failed).items():
            try:
                wav = self.vocode(result.mel, result.units)
            except Exception as exc:  # one bad utterance must not stop the others
                _fail(key, "vocoding failed", exc, failed)
                continue
            speech[key] = Speech(wav, self.sample_rate, result.mel, result.attention, result.units)
        return speech

    def mel(
        self, tracks: Mapping[str, np.ndarray], failed: dict[str, Exception] | None = None
    ) -> dict[str, MelResult]:
        """The network's mel and attention for every track (no vocoder), in the keys' order;
        failures as in :meth:`batch`."""
        results: dict[str, MelResult] = {}
        lengths = {key: len(track) for key, track in tracks.items()}
        for keys in length_sorted_batches(lengths, self.batch_size):
            self._decode(keys, tracks, results, failed)
        return {key: results[key] for key in tracks if key in results}

    def vocode(self, mel: np.ndarray, units: np.ndarray | None = None) -> np.ndarray:
        """Float32 waveform at :attr:`sample_rate` of a log-mel ``(frames, n_mels)``; a units
        vocoder also takes ``units`` ``(frames,)`` (a :class:`MelResult`'s), the others ignore them."""
        if self.vocoder is None:
            raise ValueError("this Video2Speech has no vocoder (vocoder_type None)")
        if not self.needs_units:
            return self.vocoder(mel)
        if units is None:
            raise ValueError("a units vocoder needs the units of the mel's frames (MelResult.units)")
        if self.vocoder.speakers is None:
            return self.vocoder(mel, units)
        return self.vocoder(mel, units, self.speaker_embedding)

    def use_speaker_wav(self, path: PathLike) -> None:
        """Speak with the voice of the recording ``path`` (any format FFmpeg reads): its GE2E
        embedding becomes :attr:`speaker_embedding`; a vocoder without a speaker input refuses."""
        if getattr(self.vocoder, "speakers", None) is None:
            raise ValueError(
                "the vocoder has no speaker input (a hifigan_units config with a speaker section)"
            )
        from lipsound2.frontend.decode import load_audio
        from lipsound2.vocoders.speaker import SAMPLE_RATE, SpeakerEncoder

        try:
            self.speaker_embedding = SpeakerEncoder()(load_audio(str(path), SAMPLE_RATE))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def _decode(
        self,
        keys: list[str],
        tracks: Mapping[str, np.ndarray],
        results: dict[str, MelResult],
        failed: dict[str, Exception] | None,
    ) -> None:
        """Decode ``keys`` as one batch into ``results``; if the batch fails, each utterance is
        decoded alone (its result does not depend on the batch), so only the one at fault is lost.

        After a CUDA out-of-memory error the retry runs outside the ``except`` block, whose
        traceback would keep the failed batch's activations alive, and after freeing the cache.
        """
        try:
            results.update(self._generate(keys, tracks))
            return
        except torch.cuda.OutOfMemoryError:
            out_of_memory = True
        except Exception as exc:
            if len(keys) == 1:
                _fail(keys[0], "decoding failed", exc, failed)
                return
            out_of_memory = False
        if out_of_memory and torch.cuda.is_available():
            torch.cuda.empty_cache()
        if len(keys) == 1:
            _fail(keys[0], "decoding failed", torch.cuda.OutOfMemoryError("out of GPU memory alone"), failed)
            return
        for key in keys:
            self._decode([key], tracks, results, failed)

    def _prepare(self, key: str, track: np.ndarray) -> np.ndarray:
        """float32 ``(T, S, S, channels)`` of the model's input, or an error saying what is wrong."""
        video = self.preprocess(key, {"video": track})["video"]
        side = self.model.image_size
        if video.shape[1:3] != (side, side):
            raise ValueError(
                f"face track frames are {video.shape[2]}x{video.shape[1]} pixels; the model takes "
                f"{side}x{side} crops (the front end's crop.size)"
            )
        if len(video) == 0:
            raise ValueError("empty face track")
        return video

    def _generate(self, keys: list[str], tracks: Mapping[str, np.ndarray]) -> dict[str, MelResult]:
        lengths = torch.tensor([len(tracks[key]) for key in keys])
        side, channels = self.model.image_size, self.model.in_channels
        video = torch.zeros((len(keys), int(lengths.max()), side, side, channels))
        for i, key in enumerate(keys):  # one float copy of a track at a time
            video[i, : int(lengths[i])] = torch.from_numpy(self._prepare(key, tracks[key]))
        generators = [utterance_generator(self.seed, key) for key in keys]
        out = self.model.generate(
            video.to(self.device),
            lengths.to(self.device),
            self.stop_mode,
            self.max_decode_steps,
            generators,
        )
        del video
        results = {}
        for j, key in enumerate(keys):
            n_out, n_in = int(out["mel_lengths"][j]), int(out["attention_lengths"][j])
            n_steps = int(out["attention_steps"][j])
            # copies: a result must not keep its batch's tensors alive
            units = None
            if "units" in out:
                units = np.array(out["units"][j, :n_out].cpu(), dtype=np.int32)
            results[key] = MelResult(
                mel=np.array(out["mel"][j, :n_out].float().cpu(), dtype=np.float32),
                attention=np.array(out["attention"][j, :n_steps, :n_in].float().cpu(), dtype=np.float32),
                units=units,
            )
        return results


def _check_unit_head(
    head: UnitHead | None, k: int, vocoder_type: str, vocoder_file: PathLike | None, model_file: PathLike
) -> None:
    """Refuse a units vocoder whose units the model does not predict, naming both files."""
    if head is None:
        raise ValueError(
            f"vocoder_type {vocoder_type} ({vocoder_file}) vocodes the predicted speech units with the "
            f"mel, but the model {model_file} has no unit head (unit_weight 0); use a model trained "
            "with units or vocoder_type hifigan / griffin_lim"
        )
    if head.num_units != k:
        raise ValueError(
            f"vocoder_type {vocoder_type} ({vocoder_file}) takes {k} units (k), but the model "
            f"{model_file} predicts {head.num_units}; train the vocoder on the model's units"
        )


def _fail(key: str, what: str, exc: Exception, failed: dict[str, Exception] | None) -> None:
    """Record ``exc`` as ``key``'s failure, or raise an error naming the utterance."""
    if failed is None:
        raise RuntimeError(f"utterance {key}: {what}: {exc}") from exc
    failed[key] = exc

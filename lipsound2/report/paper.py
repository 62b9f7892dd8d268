"""What the settings in force do differently from the LipSound2 paper.

The paper's values are those of :mod:`lipsound2.paper`. The settings in force are read from
what a run actually used: the experiment's ``config.yaml`` as ESPnet's trainer wrote it
(model sizes, losses, normalisation, initialisation), the inference YAML, the front-end YAML,
and the stage options of the vocoder and the lip-reading ASR. Missing model keys take the
network classes' own defaults, as the trainer does.

Each setting compared is one :class:`Rule` of :data:`RULES`: which input it reads, how it
reads the value in force there, when that value differs from the paper's, and how the row
reads. Each difference says whether it can be the paper's; ``--paper_settings true`` of the
stage script selects every setting that can, so with it only the unavoidable ones remain.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lipsound2 import paper
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import FrontendConfig
from lipsound2.inference.options import INFERENCE_DEFAULTS
from lipsound2.nets.decoder import AttentionDecoder
from lipsound2.nets.encoder import VisualEncoder
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.postnet import Postnet

SWITCH = "--paper_settings true"
TRAINING = "training config"  # the input of the rules that a pre-training's config.yaml also answers


@dataclass(frozen=True)
class Difference:
    """One setting in force that the paper did not use."""

    setting: str
    here: str
    paper: str
    remedy: str  # how to get the paper's, or why it cannot be
    avoidable: bool

    def row(self) -> tuple[str, str, str, str]:
        return (self.setting, self.here, self.paper, ("yes: " if self.avoidable else "no: ") + self.remedy)


@dataclass
class SettingsInForce:
    """What a run used; ``None``: not given, so not compared."""

    train_config: dict[str, Any] | None = None  # the experiment's config.yaml
    train_config_path: Path | None = None
    inference_config: dict[str, Any] | None = None
    frontend: FrontendConfig | None = None
    vocoder_type: str | None = None
    asr_config: dict[str, Any] | None = None  # config.yaml of the ASR decoding the generated speech
    asr_pretrained_model: str | None = None  # "": trained from scratch on the corpus
    ngram_order: int | None = None  # 0: no LM
    asr_lr_factor: float | None = None


def _defaults(cls: type) -> dict[str, Any]:
    params = inspect.signature(cls).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def model_settings(model_conf: dict[str, Any] | None) -> dict[str, Any]:
    """``model_conf`` with every key the network classes default filled in."""
    model_conf = model_conf or {}
    conf = {**_defaults(LipSound2), **model_conf}
    for name, cls in (
        ("encoder_conf", VisualEncoder),
        ("decoder_conf", AttentionDecoder),
        ("postnet_conf", Postnet),
    ):
        conf[name] = {**_defaults(cls), **(model_conf.get(name) or {})}
    return paper.plain(conf)


@dataclass(frozen=True)
class Training:
    """A training's config.yaml with its model settings filled in, and the inference options
    that override the model's decoding settings (none for a pre-training)."""

    config: dict[str, Any]
    inference: dict[str, Any]
    pre_training: bool = False  # the config is the pre-training's, from random weights by design

    @cached_property
    def model(self) -> dict[str, Any]:
        return model_settings(self.config.get("model_conf"))


Text = str | Callable[[Any], str]


@dataclass(frozen=True)
class Rule:
    """One setting compared with the paper's.

    ``read`` gets the rule's input (never None) and returns the value in force, or None where
    that input does not say (then nothing is compared); ``differs`` says whether that value is
    not the paper's. ``here``, ``paper`` and ``remedy`` are the row's texts, or functions of the
    value that give them."""

    setting: str
    source: str  # a key of _inputs(): the input the value is read from
    read: Callable[[Any], Any]
    differs: Callable[[Any], bool]
    here: Text
    paper: Text
    remedy: Text
    avoidable: bool

    def evaluate(self, given: Any) -> Difference | None:
        value = self.read(given)
        if value is None or not self.differs(value):
            return None

        def text(t: Text) -> str:
            return t if isinstance(t, str) else t(value)

        return Difference(self.setting, text(self.here), text(self.paper), text(self.remedy), self.avoidable)


def _size_differences(conf: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(name, here, paper)`` for each Table I size that ``conf`` does not have."""
    out = []
    for key, want in paper.plain(paper.MODEL_SIZES).items():
        items = want.items() if isinstance(want, dict) else [(None, want)]
        for sub, value in items:
            got = conf[key][sub] if sub else conf[key]
            if got != value:
                out.append((f"{key}.{sub}" if sub else key, got, value))
    return out


def _mel_differences(fe: FrontendConfig) -> list[tuple[str, Any, Any]]:
    """``(name, here, paper)`` for each mel setting and the frame rate not the paper's."""
    mel = fe.mel.to_dict()
    out = [(k, mel[k], v) for k, v in paper.MEL.items() if not math.isclose(float(mel[k]), float(v))]
    if fe.video.fps != paper.FPS:
        out.append(("video fps", fe.video.fps, paper.FPS))
    return out


def _listed(differences: list[tuple[str, Any, Any]], column: int) -> str:
    return "; ".join(f"{d[0]} {d[column]}" for d in differences)


def _inference_option(t: Training, key: str) -> Any:
    return t.inference.get(key) or t.model[key]


def _vocoder_remedy(vocoder_type: str) -> str:
    remedy = "no 16 kHz WaveGlow is available; HiFi-GAN is the neural stand-in"
    if vocoder_type == "griffin_lim":  # no neural vocoder at all
        remedy += f" (--vocoder_type {paper.VOCODER_STAND_IN}, {SWITCH})"
    return remedy


_VOCODERS = {
    "griffin_lim": "Griffin-Lim (no neural vocoder)",
    "hifigan": "HiFi-GAN trained on this corpus",
    "hifigan_units": "HiFi-GAN fed mel + predicted speech units, trained on this corpus",
    "hifigan_pretrained": "the published universal HiFi-GAN V1 (22.05 kHz), bridged to this mel",
}
_NO_ADDED_LOSS = "none (Eq. 5: decoder and postnet MSE only)"
_PAPER_CONFIG = f"{paper.TRAIN_CONFIG} ({SWITCH})"

# In the order of RESULTS.md's rows. The rules reading TRAINING are also applied to the
# pre-training's config.yaml, where it has one.
RULES: tuple[Rule, ...] = (
    Rule(
        "Mel target normalisation",
        TRAINING,
        lambda t: t.config.get("normalize"),
        bool,
        lambda v: f"{v} (the model learns normalised mel)",
        "none (log mel as extracted)",
        f"--feats_normalize {paper.FEATS_NORMALIZE} ({SWITCH})",
        True,
    ),
    Rule(
        "Pre-training",
        TRAINING,
        lambda t: None if t.pre_training or "init_param" not in t.config else bool(t.config["init_param"]),
        lambda initialised: not initialised,
        "none: this model was trained from random weights",
        paper.PRETRAINING,
        "stage 3, or --pretrain_model",
        True,
    ),
    Rule(
        "Visual input",
        TRAINING,
        lambda t: t.config.get("blank_video"),
        bool,
        "blanked frames (the no-visual-information baseline)",
        "face video",
        "train without --blank_video",
        True,
    ),
    Rule(
        "Model sizes (Table I)",
        TRAINING,
        lambda t: _size_differences(t.model),
        bool,
        lambda sizes: _listed(sizes, 1),
        lambda sizes: _listed(sizes, 2),
        _PAPER_CONFIG,
        True,
    ),
    Rule(
        "Mel frames per decoder step (reduction factor)",
        TRAINING,
        lambda t: t.model["decoder_conf"]["reduction_factor"],
        lambda r: r != paper.REDUCTION_FACTOR,
        str,
        str(paper.REDUCTION_FACTOR),
        f"reduction_factor: {paper.REDUCTION_FACTOR} ({SWITCH})",
        True,
    ),
    Rule(
        "Added loss: guided attention",
        TRAINING,
        lambda t: (t.model["guided_attention_weight"], t.model["guided_attention_sigma"]),
        lambda v: v[0] > 0,
        lambda v: f"weight {v[0]}, sigma {v[1]}",
        _NO_ADDED_LOSS,
        f"guided_attention_weight: 0 ({SWITCH})",
        True,
    ),
    Rule(
        "Added loss: encoder mel read-out",
        TRAINING,
        lambda t: t.model["encoder_mel_weight"],
        lambda w: w > 0,
        lambda w: f"weight {w}",
        _NO_ADDED_LOSS,
        f"encoder_mel_weight: 0 ({SWITCH})",
        True,
    ),
    Rule(
        "Stop mode",
        TRAINING,
        lambda t: (_inference_option(t, "stop_mode"), t.model["mel_per_video_frame"]),
        lambda v: v[0] != paper.STOP_MODE,
        lambda v: f"{v[0]} ({v[1]} mel frames per video frame)",
        "visual period (an all-255 frame after the video)",
        f"stop_mode: {paper.STOP_MODE} ({SWITCH})",
        True,
    ),
    Rule(
        "Decoding cap",
        TRAINING,
        lambda t: _inference_option(t, "max_decode_steps"),
        lambda steps: steps != paper.MAX_DECODE_STEPS,
        lambda steps: f"{steps} steps",
        f"{paper.MAX_DECODE_STEPS} steps",
        f"max_decode_steps: {paper.MAX_DECODE_STEPS} ({SWITCH})",
        True,
    ),
    Rule(
        "Scheduled sampling",
        TRAINING,
        lambda t: t.model["ss_max_prob"],
        lambda p: p <= 0,
        "none (teacher forcing throughout)",
        "used (schedule not given)",
        f"ss_max_prob > 0 ({SWITCH})",
        True,
    ),
    Rule(  # the paper gives no schedule, so any schedule is one it did not say
        "Scheduled sampling schedule",
        TRAINING,
        lambda t: (t.model["ss_max_prob"], t.model["ss_start_step"], t.model["ss_end_step"]),
        lambda v: v[0] > 0,
        lambda v: f"own-frame probability 0 -> {v[0]} from step {v[1]} to {v[2]}",
        "used (schedule not given)",
        "the paper gives no schedule",
        False,
    ),
    Rule(
        "Learning rate",
        TRAINING,
        lambda t: (
            (t.config.get("optim"), t.config["optim_conf"] or {}, t.config["scheduler"])
            if "optim_conf" in t.config and "scheduler" in t.config
            else None
        ),
        lambda v: v[1].get("lr") != paper.LEARNING_RATE or paper.LR_SCHEDULE not in str(v[2]).lower(),
        lambda v: f"{v[0]} lr {v[1].get('lr')}, scheduler {v[2]}",
        f"{paper.LR_SCHEDULE} decay from {paper.LEARNING_RATE}",
        _PAPER_CONFIG,
        True,
    ),
    Rule(
        "Gradient clipping",
        TRAINING,
        lambda t: t.config.get("grad_clip"),
        lambda clip: clip != paper.GRAD_CLIP,
        lambda clip: f"norm {clip}",
        f"norm {paper.GRAD_CLIP}",
        f"grad_clip: {paper.GRAD_CLIP} ({SWITCH})",
        True,
    ),
    Rule(
        "Horizontal flip",
        TRAINING,
        lambda t: None if "hflip_prob" not in t.config else (t.config["hflip_prob"] or 0) > 0,
        lambda on: not on,
        "off",
        "on",
        f"hflip_prob > 0 ({SWITCH})",
        True,
    ),
    Rule(
        "Early stopping",
        TRAINING,
        lambda t: None if "patience" not in t.config else t.config["patience"] is not None,
        lambda on: not on,
        "off (every epoch up to max_epoch)",
        "on",
        f"patience ({SWITCH})",
        True,
    ),
    Rule(
        "Inference precision",
        "inference config",
        lambda inference: inference.get("precision", INFERENCE_DEFAULTS["precision"]),
        lambda precision: precision != paper.PRECISION,
        lambda precision: f"{precision} Linear weights",
        paper.PRECISION,
        f"precision: {paper.PRECISION} in the inference config ({SWITCH})",
        True,
    ),
    Rule(
        "Face detector",
        "front-end config",
        lambda fe: fe.detector.name,
        lambda name: name.lower() != paper.FACE_DETECTOR.lower(),
        str,
        paper.FACE_DETECTOR,
        f"this toolkit has no {paper.FACE_DETECTOR} detector",
        False,
    ),
    Rule(
        "Face crop",
        "front-end config",
        lambda fe: (fe.crop.region, fe.crop.size),
        lambda v: v != (paper.CROP_REGION, paper.IMAGE_SIZE),
        lambda v: f"{v[0]} {v[1]}x{v[1]}",
        f"{paper.CROP_REGION} {paper.IMAGE_SIZE}x{paper.IMAGE_SIZE}",
        f"crop: {{region: {paper.CROP_REGION}, size: {paper.IMAGE_SIZE}}} in the front-end config",
        True,
    ),
    Rule(
        "Features",
        "front-end config",
        _mel_differences,
        bool,
        lambda mel: _listed(mel, 1),
        lambda mel: _listed(mel, 2),
        "the front-end config's defaults",
        True,
    ),
    Rule(  # the paper's WaveGlow is never in force
        "Vocoder",
        "vocoder",
        lambda vocoder_type: vocoder_type,
        lambda _: True,
        lambda vocoder_type: _VOCODERS.get(vocoder_type, vocoder_type),
        paper.VOCODER,
        _vocoder_remedy,
        False,
    ),
    Rule(  # nor is its Jasper
        "Lip-reading ASR",
        "ASR config",
        lambda ac: (ac.get("encoder"), ac.get("decoder"), (ac.get("model_conf") or {}).get("ctc_weight")),
        lambda _: True,
        lambda v: f"ESPnet {v[0]} encoder, {v[1]} decoder, CTC weight {v[2]}",
        paper.ASR,
        "Jasper is not available in ESPnet",
        False,
    ),
    Rule(
        "ASR initialisation",
        "ASR initialisation",
        lambda model: model,
        lambda model: model == "",
        "trained from scratch on this corpus' real training audio",
        paper.ASR_PRETRAINING,
        "--asr_pretrained_model",
        True,
    ),
    Rule(
        "ASR fine-tuning learning rate",
        "ASR fine-tuning learning rate",
        lambda factor: factor,
        lambda factor: not math.isclose(factor, paper.ASR_LR_FACTOR),
        lambda factor: f"{factor} x the base model's",
        f"{paper.ASR_LR_FACTOR} x",
        f"--asr_lr_factor {paper.ASR_LR_FACTOR} ({SWITCH})",
        True,
    ),
    Rule(
        "Language model",
        "n-gram LM",
        lambda order: order,
        lambda order: order == 0,
        "none",
        f"{paper.NGRAM_ORDER}-gram KenLM",
        f"--use_lm true ({SWITCH})",
        True,
    ),
    Rule(
        "n-gram LM order",
        "n-gram LM",
        lambda order: order,
        lambda order: order not in (0, paper.NGRAM_ORDER),
        str,
        str(paper.NGRAM_ORDER),
        f"--ngram_order {paper.NGRAM_ORDER} ({SWITCH})",
        True,
    ),
    Rule(  # any LM: its text is this corpus', never the paper's
        "n-gram LM text",
        "n-gram LM",
        lambda order: order,
        lambda order: order != 0,
        "this corpus' training transcripts, over the ASR's tokens",
        paper.LM_TEXT,
        "the paper's LM text is not part of the corpora",
        False,
    ),
)


def _inputs(s: SettingsInForce) -> dict[str, Any]:
    """The inputs the rules read, keyed by their names in the 'Not compared' row; None: not given."""
    inference = s.inference_config or {}
    return {
        TRAINING: None if s.train_config is None else Training(s.train_config, inference),
        "inference config": s.inference_config,
        "front-end config": s.frontend,
        "vocoder": s.vocoder_type,
        "ASR config": s.asr_config,
        "ASR initialisation": s.asr_pretrained_model,
        "n-gram LM": s.ngram_order,
        "ASR fine-tuning learning rate": s.asr_lr_factor,
    }


def _evaluate(rules: tuple[Rule, ...], inputs: dict[str, Any]) -> list[Difference]:
    """The differences ``rules`` find in ``inputs``, in the rules' order."""
    found = (rule.evaluate(inputs[rule.source]) for rule in rules if inputs[rule.source] is not None)
    return [d for d in found if d is not None]


def _pre_training(s: SettingsInForce) -> Training | None:
    """The pre-trained model's own training config, where its experiment dir holds a config.yaml."""
    init = (s.train_config or {}).get("init_param") or []
    if not init or s.train_config_path is None:
        return None
    model = Path(str(init[0]).split(":")[0])
    if not model.is_absolute():  # the trainer ran in the recipe dir, as stage 8 does
        model = Path.cwd() / model
    conf_path = model.parent / "config.yaml"
    if not conf_path.is_file() or conf_path.resolve() == s.train_config_path.resolve():
        return None
    return Training(load_yaml(conf_path), {}, pre_training=True)


def differences(s: SettingsInForce) -> list[Difference]:
    """Every setting in ``s`` that the paper did not use, and what was not given.

    The pre-training's differences follow the fine-tuning's, each once: one the fine-tuning
    shares is listed only there."""
    inputs = _inputs(s)
    training = tuple(r for r in RULES if r.source == TRAINING)
    out = _evaluate(training, inputs)
    if (pre := _pre_training(s)) is not None:
        seen = {(d.setting, d.here) for d in out}
        out += [
            Difference(f"{d.setting} (pre-training)", d.here, d.paper, d.remedy, d.avoidable)
            for d in _evaluate(training, {TRAINING: pre})
            if (d.setting, d.here) not in seen
        ]
    out += _evaluate(tuple(r for r in RULES if r.source != TRAINING), inputs)
    if missing := [name for name, value in inputs.items() if value is None]:
        out.append(Difference("Not compared", ", ".join(missing), "-", "not given to the report", False))
    return out

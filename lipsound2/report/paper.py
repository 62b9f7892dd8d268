"""What the settings in force do differently from the LipSound2 paper.

The paper's values (sections III, IV-C and Table I) are written here once. The settings in
force are read from what a run actually used: the experiment's ``config.yaml`` as ESPnet's
trainer wrote it (model sizes, losses, normalisation, initialisation), the inference YAML,
the front-end YAML, and the stage options of the vocoder and the lip-reading ASR. Missing
model keys take the network classes' own defaults, as the trainer does. Each difference
says whether it can be the paper's; ``--paper_settings true`` of the stage script selects
every setting that can, so with it only the unavoidable ones remain.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import FrontendConfig
from lipsound2.inference.options import INFERENCE_DEFAULTS
from lipsound2.nets.decoder import AttentionDecoder
from lipsound2.nets.encoder import VisualEncoder
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.postnet import Postnet
from lipsound2.vocoders.factory import TRAINED_TYPES

SWITCH = "--paper_settings true"

# Table I (the model's own reduction factor, stop mode and cap are compared on their own)
PAPER_SIZES = {
    "image_size": 112,
    "n_mels": 80,
    "encoder_conf": {
        "channels": [32, 64, 128],
        "kernel": [5, 3, 3],
        "strides": [[1, 2, 2], [1, 2, 2], [1, 1, 1]],
        "padding": [2, 0, 0],
        "pool": [1, 2, 2],
        "lstm_units": 128,
        "lstm_layers": 2,
    },
    "decoder_conf": {
        "prenet_sizes": [512, 256],
        "attention_lstm_units": 1024,
        "decoder_lstm_units": 1024,
        "attention_size": 128,
        "location_filters": 32,
        "location_kernel": 31,
    },
    "postnet_conf": {"channels": 512, "layers": 5, "kernel": 5},
}
# section IV-C-2; 25 fps video gives the 2.5 mel frames per video frame the decoder assumes
PAPER_MEL = {
    "sample_rate": 16000,
    "n_fft": 1024,
    "win_length": 1024,
    "hop_length": 256,
    "n_mels": 80,
    "clip": 1e-5,
    "peak_normalize": True,
}
PAPER_FPS = 25.0
PAPER_LR = 1e-3  # cosine decay from it (section IV-C-3)
PAPER_GRAD_CLIP = 1.0
PAPER_MAX_DECODE_STEPS = 1000
PAPER_NGRAM_ORDER = 6
PAPER_ASR_LR_FACTOR = 0.1  # "a 10 times smaller learning rate"


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


def _plain(value: Any) -> Any:
    """Tuples as lists, so that defaults written as tuples compare equal to YAML lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


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
    return _plain(conf)


def _size_differences(conf: dict[str, Any]) -> tuple[list[str], list[str]]:
    here, paper = [], []
    for key, want in PAPER_SIZES.items():
        items = want.items() if isinstance(want, dict) else [(None, want)]
        for sub, value in items:
            got = conf[key][sub] if sub else conf[key]
            if got != value:
                name = f"{key}.{sub}" if sub else key
                here.append(f"{name} {got}")
                paper.append(f"{name} {value}")
    return here, paper


def _training_differences(
    tc: dict[str, Any], inference: dict[str, Any], pre_training: bool = False
) -> list[Difference]:
    """``pre_training``: ``tc`` is the pre-training's, which starts from random weights by design."""
    conf = model_settings(tc.get("model_conf"))
    dec = conf["decoder_conf"]
    out = []
    if tc.get("normalize"):
        out.append(
            Difference(
                "Mel target normalisation",
                f"{tc['normalize']} (the model learns normalised mel)",
                "none (log mel as extracted)",
                f"--feats_normalize none ({SWITCH})",
                True,
            )
        )
    if not pre_training and "init_param" in tc and not tc["init_param"]:
        out.append(
            Difference(
                "Pre-training",
                "none: this model was trained from random weights",
                "pre-trained on VoxCeleb2 (2,442 h), then fine-tuned",
                "stage 3, or --pretrain_model",
                True,
            )
        )
    if tc.get("blank_video"):
        out.append(
            Difference(
                "Visual input",
                "blanked frames (the no-visual-information baseline)",
                "face video",
                "train without --blank_video",
                True,
            )
        )
    here, paper = _size_differences(conf)
    if here:
        out.append(
            Difference(
                "Model sizes (Table I)",
                "; ".join(here),
                "; ".join(paper),
                f"train_paper.yaml ({SWITCH})",
                True,
            )
        )
    if dec["reduction_factor"] != 1:
        out.append(
            Difference(
                "Mel frames per decoder step (reduction factor)",
                str(dec["reduction_factor"]),
                "1",
                f"reduction_factor: 1 ({SWITCH})",
                True,
            )
        )
    if conf["guided_attention_weight"] > 0:
        out.append(
            Difference(
                "Added loss: guided attention",
                f"weight {conf['guided_attention_weight']}, sigma {conf['guided_attention_sigma']}",
                "none (Eq. 5: decoder and postnet MSE only)",
                f"guided_attention_weight: 0 ({SWITCH})",
                True,
            )
        )
    if conf["encoder_mel_weight"] > 0:
        out.append(
            Difference(
                "Added loss: encoder mel read-out",
                f"weight {conf['encoder_mel_weight']}",
                "none (Eq. 5: decoder and postnet MSE only)",
                f"encoder_mel_weight: 0 ({SWITCH})",
                True,
            )
        )
    stop_mode = inference.get("stop_mode") or conf["stop_mode"]
    if stop_mode != "visual_period":
        out.append(
            Difference(
                "Stop mode",
                f"{stop_mode} ({conf['mel_per_video_frame']} mel frames per video frame)",
                "visual period (an all-255 frame after the video)",
                f"stop_mode: visual_period ({SWITCH})",
                True,
            )
        )
    max_steps = inference.get("max_decode_steps") or conf["max_decode_steps"]
    if max_steps != PAPER_MAX_DECODE_STEPS:
        out.append(
            Difference(
                "Decoding cap",
                f"{max_steps} steps",
                f"{PAPER_MAX_DECODE_STEPS} steps",
                f"max_decode_steps: {PAPER_MAX_DECODE_STEPS} ({SWITCH})",
                True,
            )
        )
    if conf["ss_max_prob"] <= 0:
        out.append(
            Difference(
                "Scheduled sampling",
                "none (teacher forcing throughout)",
                "used (schedule not given)",
                f"ss_max_prob > 0 ({SWITCH})",
                True,
            )
        )
    else:
        out.append(
            Difference(
                "Scheduled sampling schedule",
                f"own-frame probability 0 -> {conf['ss_max_prob']} from step {conf['ss_start_step']} "
                f"to {conf['ss_end_step']}",
                "used (schedule not given)",
                "the paper gives no schedule",
                False,
            )
        )
    out += _optimisation_differences(tc)
    return out


def _optimisation_differences(tc: dict[str, Any]) -> list[Difference]:
    out = []
    lr = (tc.get("optim_conf") or {}).get("lr")
    scheduler = tc.get("scheduler")
    if (
        "optim_conf" in tc
        and "scheduler" in tc
        and (lr != PAPER_LR or "cosine" not in str(scheduler).lower())
    ):
        out.append(
            Difference(
                "Learning rate",
                f"{tc.get('optim')} lr {lr}, scheduler {scheduler}",
                f"cosine decay from {PAPER_LR}",
                f"train_paper.yaml ({SWITCH})",
                True,
            )
        )
    if "grad_clip" in tc and tc["grad_clip"] != PAPER_GRAD_CLIP:
        out.append(
            Difference(
                "Gradient clipping",
                f"norm {tc['grad_clip']}",
                f"norm {PAPER_GRAD_CLIP}",
                f"grad_clip: {PAPER_GRAD_CLIP} ({SWITCH})",
                True,
            )
        )
    if "hflip_prob" in tc and not tc["hflip_prob"] > 0:
        out.append(Difference("Horizontal flip", "off", "on", f"hflip_prob > 0 ({SWITCH})", True))
    if "patience" in tc and tc["patience"] is None:
        out.append(
            Difference(
                "Early stopping",
                "off (every epoch up to max_epoch)",
                "on",
                f"patience ({SWITCH})",
                True,
            )
        )
    return out


def _pretraining_differences(s: SettingsInForce, fine_tuning: list[Difference]) -> list[Difference]:
    """The pre-trained model's own differences, where its experiment dir holds a config.yaml."""
    init = (s.train_config or {}).get("init_param") or []
    if not init or s.train_config_path is None:
        return []
    model = Path(str(init[0]).split(":")[0])
    if not model.is_absolute():  # the trainer ran in the recipe dir, as stage 8 does
        model = Path.cwd() / model
    conf_path = model.parent / "config.yaml"
    if not conf_path.is_file() or conf_path.resolve() == s.train_config_path.resolve():
        return []
    seen = {(d.setting, d.here) for d in fine_tuning}
    return [
        Difference(f"{d.setting} (pre-training)", d.here, d.paper, d.remedy, d.avoidable)
        for d in _training_differences(load_yaml(conf_path), {}, pre_training=True)
        if (d.setting, d.here) not in seen
    ]


def _frontend_differences(fe: FrontendConfig) -> list[Difference]:
    out = []
    if fe.detector.name.lower() != "mtcnn":
        out.append(
            Difference(
                "Face detector",
                fe.detector.name,
                "MTCNN",
                "this toolkit has no MTCNN detector",
                False,
            )
        )
    if fe.crop.region != "face" or fe.crop.size != 112:
        out.append(
            Difference(
                "Face crop",
                f"{fe.crop.region} {fe.crop.size}x{fe.crop.size}",
                "face 112x112",
                "crop: {region: face, size: 112} in the front-end config",
                True,
            )
        )
    mel = fe.mel.to_dict()
    here = [f"{k} {mel[k]}" for k, v in PAPER_MEL.items() if not math.isclose(float(mel[k]), float(v))]
    if fe.video.fps != PAPER_FPS:
        here.append(f"video fps {fe.video.fps}")
    if here:
        paper = [f"{k} {PAPER_MEL[k]}" for k in PAPER_MEL if any(h.startswith(f"{k} ") for h in here)]
        paper += [f"video fps {PAPER_FPS}"] if fe.video.fps != PAPER_FPS else []
        out.append(
            Difference(
                "Features",
                "; ".join(here),
                "; ".join(paper),
                "the front-end config's defaults",
                True,
            )
        )
    return out


def _asr_differences(s: SettingsInForce) -> list[Difference]:
    out = []
    if s.vocoder_type is not None:
        here = {
            "griffin_lim": "Griffin-Lim (no neural vocoder)",
            "hifigan": "HiFi-GAN trained on this corpus",
            "hifigan_units": "HiFi-GAN fed mel + predicted speech units, trained on this corpus",
        }
        remedy = "no 16 kHz WaveGlow is available; HiFi-GAN is the neural stand-in"
        if s.vocoder_type not in TRAINED_TYPES:
            remedy += f" (--vocoder_type hifigan, {SWITCH})"
        out.append(
            Difference(
                "Vocoder",
                here.get(s.vocoder_type, s.vocoder_type),
                "WaveGlow trained on LJSpeech at 16 kHz",
                remedy,
                False,
            )
        )
    if s.asr_config is not None:
        ac = s.asr_config
        ctc = (ac.get("model_conf") or {}).get("ctc_weight")
        out.append(
            Difference(
                "Lip-reading ASR",
                f"ESPnet {ac.get('encoder')} encoder, {ac.get('decoder')} decoder, CTC weight {ctc}",
                "Jasper DR 10x5 (convolutional, CTC over characters)",
                "Jasper is not available in ESPnet",
                False,
            )
        )
    if s.asr_pretrained_model == "":
        out.append(
            Difference(
                "ASR initialisation",
                "trained from scratch on this corpus' real training audio",
                "pre-trained on LibriSpeech 960 h (English) or AISHELL-2 1000 h (Chinese)",
                "--asr_pretrained_model",
                True,
            )
        )
    if s.asr_lr_factor is not None and not math.isclose(s.asr_lr_factor, PAPER_ASR_LR_FACTOR):
        out.append(
            Difference(
                "ASR fine-tuning learning rate",
                f"{s.asr_lr_factor} x the base model's",
                f"{PAPER_ASR_LR_FACTOR} x",
                f"--asr_lr_factor {PAPER_ASR_LR_FACTOR} ({SWITCH})",
                True,
            )
        )
    if s.ngram_order == 0:
        out.append(
            Difference(
                "Language model",
                "none",
                f"{PAPER_NGRAM_ORDER}-gram KenLM",
                f"--use_lm true ({SWITCH})",
                True,
            )
        )
    elif s.ngram_order is not None:
        if s.ngram_order != PAPER_NGRAM_ORDER:
            out.append(
                Difference(
                    "n-gram LM order",
                    str(s.ngram_order),
                    str(PAPER_NGRAM_ORDER),
                    f"--ngram_order {PAPER_NGRAM_ORDER} ({SWITCH})",
                    True,
                )
            )
        out.append(
            Difference(
                "n-gram LM text",
                "this corpus' training transcripts, over the ASR's tokens",
                "large text (KenLM)",
                "the paper's LM text is not part of the corpora",
                False,
            )
        )
    return out


def differences(s: SettingsInForce) -> list[Difference]:
    """Every setting in ``s`` that the paper did not use, and what was not given."""
    out: list[Difference] = []
    inference = s.inference_config or {}
    if s.train_config is not None:
        out += _training_differences(s.train_config, inference)
        out += _pretraining_differences(s, out)
    if s.inference_config is not None:
        precision = inference.get("precision", INFERENCE_DEFAULTS["precision"])
        if precision != "fp32":
            out.append(
                Difference(
                    "Inference precision",
                    f"{precision} Linear weights",
                    "fp32",
                    f"precision: fp32 in the inference config ({SWITCH})",
                    True,
                )
            )
    if s.frontend is not None:
        out += _frontend_differences(s.frontend)
    out += _asr_differences(s)
    given = {
        "training config": s.train_config,
        "inference config": s.inference_config,
        "front-end config": s.frontend,
        "vocoder": s.vocoder_type,
        "ASR config": s.asr_config,
        "ASR initialisation": s.asr_pretrained_model,
        "n-gram LM": s.ngram_order,
        "ASR fine-tuning learning rate": s.asr_lr_factor,
    }
    if missing := [name for name, value in given.items() if value is None]:
        out.append(Difference("Not compared", ", ".join(missing), "-", "not given to the report", False))
    return out

"""The LipSound2 paper's settings, written once (section III, Table I, section IV-C).

Everything that is meant to be the paper's reads its value from here: the network classes'
defaults (:mod:`lipsound2.nets`), the front end's mel, frame-rate and crop defaults
(:mod:`lipsound2.frontend.config`), the comparison with the settings in force that RESULTS.md
lists (:mod:`lipsound2.report.paper`) and the stage options of ``--paper_settings true``
(:mod:`lipsound2.bin.paper_options`). The recipes' paper configs are YAML and cannot import
this module; a test holds them to it.

A ground-floor module: it imports nothing from lipsound2, so any folder may import it.
Sequences are tuples and tables read-only mappings, so a default taken from here cannot be
changed by the code that received it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# Vision stream (section IV-C-1): MTCNN face landmarks, the face cropped to 112x112, one
# 'visual period' frame of all 255 appended
IMAGE_SIZE = 112
CROP_REGION = "face"
FACE_DETECTOR = "MTCNN"
VISUAL_PERIOD_VALUE = 255.0

# Table I, as the keys of the training config's model_conf. The decoder's reduction factor,
# stop mode and decoding cap are compared on their own (below).
ENCODER: Mapping[str, Any] = MappingProxyType(
    {
        "channels": (32, 64, 128),
        "kernel": (5, 3, 3),
        "strides": ((1, 2, 2), (1, 2, 2), (1, 1, 1)),
        "padding": (2, 0, 0),
        "pool": (1, 2, 2),
        "lstm_units": 128,
        "lstm_layers": 2,
    }
)
DECODER: Mapping[str, Any] = MappingProxyType(
    {
        "prenet_sizes": (512, 256),
        "attention_lstm_units": 1024,
        "decoder_lstm_units": 1024,
        "attention_size": 128,
        "location_filters": 32,
        "location_kernel": 31,
    }
)
POSTNET: Mapping[str, Any] = MappingProxyType({"channels": 512, "layers": 5, "kernel": 5})

# Section IV-C-2: 16 kHz, waveform over its maximum, 64 ms window, 16 ms hop, 80 bands,
# clipped at 1e-5, natural log
MEL: Mapping[str, Any] = MappingProxyType(
    {
        "sample_rate": 16000,
        "n_fft": 1024,
        "win_length": 1024,
        "hop_length": 256,
        "n_mels": 80,
        "clip": 1e-5,
        "peak_normalize": True,
    }
)
N_MELS: int = MEL["n_mels"]
FPS = 25.0
# 2.5: the mel frames the decoder emits per video frame
MEL_PER_VIDEO_FRAME: float = MEL["sample_rate"] / MEL["hop_length"] / FPS

# Table I as a whole, keyed as model_conf is
MODEL_SIZES: Mapping[str, Any] = MappingProxyType(
    {
        "image_size": IMAGE_SIZE,
        "n_mels": N_MELS,
        "encoder_conf": ENCODER,
        "decoder_conf": DECODER,
        "postnet_conf": POSTNET,
    }
)

# Decoding (section III-C, IV-C-1): one mel frame per step, stop at the visual period, at
# most 1000 steps
REDUCTION_FACTOR = 1
STOP_MODE = "visual_period"
MAX_DECODE_STEPS = 1000

# Training (section IV-C-3): cosine decay from 1e-3, gradient norm clipped at 1.0, the log
# mel as extracted (no target normalisation); horizontal flip, early stopping and scheduled
# sampling are used, with no rate, patience or schedule given
LEARNING_RATE = 1e-3
LR_SCHEDULE = "cosine"
GRAD_CLIP = 1.0
FEATS_NORMALIZE = "none"
PRECISION = "fp32"

# Lip reading (sections III-F and IV-C-4): a pre-trained ASR fine-tuned on the generated
# speech with a 10 times smaller learning rate, beam search with a 6-gram LM
ASR_LR_FACTOR = 0.1
NGRAM_ORDER = 6

# What the paper used that this toolkit does not have, as RESULTS.md names it
VOCODER = "WaveGlow trained on LJSpeech at 16 kHz"
ASR = "Jasper DR 10x5 (convolutional, CTC over characters)"
ASR_PRETRAINING = "pre-trained on LibriSpeech 960 h (English) or AISHELL-2 1000 h (Chinese)"
PRETRAINING = "pre-trained on VoxCeleb2 (2,442 h), then fine-tuned"
LM_TEXT = "large text (KenLM)"

# The toolkit's side of --paper_settings true: the neural vocoder standing in for WaveGlow
# and the recipe configs (egs/TEMPLATE/conf) that hold the values above
VOCODER_STAND_IN = "hifigan"
TRAIN_CONFIG = "train_paper.yaml"
INFERENCE_CONFIG = "inference_paper.yaml"


def plain(value: Any) -> Any:
    """``value`` as YAML loads it: tuples as lists, mappings as dicts, so it compares equal
    to a config's value and prints as one."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value

"""Audio-only pre-training of the LipSound2 decoder on ESPnet's ``AbsTask``
(:class:`~lipsound2.nets.audio_pretrain.AudioPretrainModel`; docs/audio_pretraining.md).

The data is the log-mel alone, input and target at once::

    --train_data_path_and_name_and_type dump/librispeech_train/feats.scp,feats,kaldi_ark

``--lipsound2_config conf/train.yaml`` names the LipSound2 training config whose decoder this
model pre-trains: its ``decoder_conf``, ``postnet_conf`` and video-encoder output size are
taken from there (one source of truth, and a decoder that fits that model by key). Feature
settings come from ``--frontend_config`` as in LipSound2's task; ``--normalize global_mvn``
normalises input and target alike. Everything else (trainer, resume, scheduled-sampling count)
is LipSound2's task.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from espnet2.utils.types import str_or_none

from lipsound2.nets.audio_pretrain import AudioPretrainModel
from lipsound2.tasks.build import DECODER_KEYS, build_model
from lipsound2.tasks.lipsound2 import FEATURE_KEYS, LipSound2Task, add_model_arguments


class AudioPretrainTask(LipSound2Task):
    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(description="Audio pre-training model")
        group.add_argument(
            "--lipsound2_config",
            type=str_or_none,
            default=None,
            help="The LipSound2 training config whose decoder this model pre-trains: it sets model_conf's "
            + " and ".join(DECODER_KEYS)
            + " and encoder_conf's output_size (without it they are the model's defaults).",
        )
        add_model_arguments(
            group, AudioPretrainModel, FEATURE_KEYS + DECODER_KEYS, "--frontend_config and --lipsound2_config"
        )
        for class_choices in cls.class_choices_list:
            # --normalize and --normalize_conf
            class_choices.add_arguments(group)

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool) -> Callable | None:
        return None

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> tuple[str, ...]:
        return ("feats",)

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> tuple[str, ...]:
        return ()

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> AudioPretrainModel:
        """The model, its feature and decoder settings filled in from the front end and the
        LipSound2 config."""
        return build_model(args)

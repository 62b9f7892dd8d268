"""The LipSound2 training task on ESPnet's ``AbsTask``: the config, data, trainer, DDP,
resume, ``--init_param``, AMP, tensorboard and n-best averaging all come from ESPnet.

Mel targets can be normalised as in ESPnet's TTS task: ``--normalize global_mvn
--normalize_conf stats_file=feats_stats.npz`` (written by ``lipsound2.bin.feats_stats``).

Data: ``video`` (face tracks, loader type ``face_track``) and ``feats`` (log-mel,
``kaldi_ark``), e.g.::

    --train_data_path_and_name_and_type dump/train/video.scp,video,face_track
    --train_data_path_and_name_and_type dump/train/feats.scp,feats,kaldi_ark

A model with a unit head (``model_conf`` ``unit_weight`` > 0) also reads the speech units of
stage 2, one per mel frame (Kaldi int vectors, which ``kaldi_ark`` loads as int arrays)::

    --train_data_path_and_name_and_type dump/train/units.scp,units,kaldi_ark

and its ``num_units`` must be the ``k`` of the ``units.yaml`` beside each ``units.scp``.

``--frontend_config conf/frontend.yaml`` (the file the features were made with) gives the
model its ``n_mels`` and ``mel_per_video_frame``; a ``model_conf`` that sets them otherwise
is an error. The values used are written to the experiment's ``config.yaml``.

Scheduled sampling counts the optimiser's steps (:meth:`LipSound2Task.build_optimizers`).
The count is saved in the model, so ``--resume`` continues it; ``--init_param
PATH:::num_updates`` leaves it out, so that a run initialised from a pre-trained model
starts its schedule again.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

import torch
from espnet2.tasks.abs_task import AbsTask
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.trainer import Trainer
from espnet2.utils.get_default_kwargs import get_default_kwargs
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2bool, str_or_none

from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.tasks import face_track_type
from lipsound2.tasks.build import build_model, normalize_choices
from lipsound2.tasks.preprocess import FaceTrackPreprocessor
from lipsound2.tasks.unit_data import check_unit_data

face_track_type.register()

# Model settings that describe the features: they come from the front-end config.
FEATURE_KEYS = ("n_mels", "mel_per_video_frame")


class LipSound2Task(AbsTask):
    num_optimizers: int = 1
    class_choices_list = [normalize_choices]
    trainer = Trainer

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        """ESPnet's worker, then the process group closed. ESPnet leaves it open, and a gloo
        group torn down by the interpreter's exit now and then aborts its process (``terminate
        called without an active exception``, SIGABRT) after a finished training, which fails
        the stage that ran it. A worker that raised leaves the group as it is: its error is the
        one to report, and its peers may still wait in a collective."""
        super().main_worker(args)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group(description="LipSound2 model")
        add_model_arguments(group, LipSound2, FEATURE_KEYS, "--frontend_config")
        group = parser.add_argument_group(description="Preprocessing")
        group.add_argument(
            "--use_preprocessor", type=str2bool, default=True, help="Cast and augment face tracks."
        )
        group.add_argument(
            "--hflip_prob", type=float, default=0.5, help="Horizontal flip probability in training."
        )
        group.add_argument(
            "--blank_video",
            type=str2bool,
            default=False,
            help="Replace every frame by --blank_value (the no-visual-information baseline).",
        )
        group.add_argument("--blank_value", type=float, default=128.0, help="Pixel value of blanked frames.")
        for class_choices in cls.class_choices_list:
            # --normalize and --normalize_conf
            class_choices.add_arguments(group)

    @classmethod
    def build_collate_fn(cls, args: argparse.Namespace, train: bool) -> Callable:
        return CommonCollateFn(float_pad_value=0.0, int_pad_value=0)

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool) -> Callable | None:
        if not args.use_preprocessor:
            return None
        return FaceTrackPreprocessor(
            train=train,
            channels=int(args.model_conf.get("in_channels", 1)),
            hflip_prob=args.hflip_prob,
            blank_video=args.blank_video,
            blank_value=args.blank_value,
        )

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> tuple[str, ...]:
        return ("video",) if inference else ("video", "feats")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> tuple[str, ...]:
        return ("feats", "units") if inference else ("units",)

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: LipSound2) -> list[torch.optim.Optimizer]:
        """ESPnet's optimiser, whose steps advance the model's scheduled-sampling count: the
        trainer steps once per ``accum_grad`` batches and not at all on non-finite gradients.
        Only training builds optimisers, so this is where a training setup is refused."""
        _refuse_frozen_under_data_parallel(args, model)
        optimizers = super().build_optimizers(args, model)
        model.count_updates(optimizers[0])
        return optimizers

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> LipSound2:
        """The model; its feature settings filled in from (and checked against) the front end,
        its unit head (if any) checked against the units of the data."""
        model = build_model(args)
        check_unit_data(args, model)
        _let_ddp_skip_frozen(args, model)
        return model


def _refuse_frozen_under_data_parallel(args: argparse.Namespace, model: LipSound2) -> None:
    """ESPnet's trainer wraps the model in ``torch.nn.DataParallel`` for ``--ngpu`` > 1 when the
    run is not distributed (``args.distributed``, which ESPnet's ``main`` derives from
    ``--multiprocessing_distributed`` and the launcher's world size). DataParallel's replicas
    hold no parameters, so ``freeze_decoder_updates`` would freeze nothing: refuse the pair."""
    ngpu = getattr(args, "ngpu", 0)
    if model.freeze_decoder_updates > 0 and ngpu > 1 and not getattr(args, "distributed", False):
        raise ValueError(model.data_parallel_refusal())


def _let_ddp_skip_frozen(args: argparse.Namespace, model: LipSound2) -> None:
    """A frozen decoder side gives no gradients, and DistributedDataParallel then stops at the
    next step ("Expected to have finished reduction in the prior iteration") unless it looks
    for unused parameters: switch ESPnet's ``--unused_parameters`` on for such a run. The
    trainer's options are read from ``args`` after the model is built."""
    distributed = getattr(args, "distributed", False)
    if model.freeze_decoder_updates > 0 and distributed and not args.unused_parameters:
        logging.warning(
            "freeze_decoder_updates=%d under distributed training: setting --unused_parameters true",
            model.freeze_decoder_updates,
        )
        args.unused_parameters = True


def add_model_arguments(
    group: argparse._ArgumentGroup, model_class: type, taken: tuple[str, ...], sources: str
) -> None:
    """``--frontend_config`` and ``--model_conf`` (the keyword arguments of ``model_class``
    but the ``taken`` ones, which ``sources`` set)."""
    group.add_argument(
        "--frontend_config",
        type=str_or_none,
        default=None,
        help="Front-end YAML the features were made with (default: the front end's defaults); "
        "it sets model_conf's " + " and ".join(FEATURE_KEYS) + ".",
    )
    defaults = {k: v for k, v in get_default_kwargs(model_class).items() if k not in taken}
    group.add_argument(
        "--model_conf",
        action=NestedDictAction,
        default=defaults,
        help=f"Keyword arguments of {model_class.__module__}.{model_class.__name__} (but "
        + ", ".join(taken)
        + f", which come from {sources}).",
    )

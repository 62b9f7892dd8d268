"""What a training of stages 3-4 reads and runs; the stage script launches it.

Two actions, each printing its answer one item a line (``read_lines`` of utils/stage_lib.sh):

``key``: the ``python -m lipsound2.bin.step`` options the training's done marker is keyed on:
the configs' content, the trainer's arguments (init models by their files), the seed, the mel
normalisation and the data tables. An edit trains again from scratch, an interruption resumes.

``setup``: prepares the experiment dir (the front-end settings of its training data, ESPnet's
shape files, the mel statistics) and prints the trainer module and its data and normalisation
arguments, which the stage script hands to ``espnet2.bin.launch`` with the job runner.

KIND ``av`` trains LipSound2 on face tracks and mel; ``audio`` the decoder's audio
pre-training on the mel alone (its decoder is ``--lipsound2_config``'s model). A model with a
unit head (model_conf unit_weight > 0) also reads stage 2's units. Stage 4 passes the models it
starts from (``--init_model``, ``--decoder_model``): they become ESPnet ``--init_param``
arguments, and the mel statistics are those of the model the decoder comes from::

    python -m lipsound2.bin.train_plan setup --kind av --exp exp/lipsound2_train \\
        --config conf/train.yaml --train_set train --valid_set dev --dumpdir dump \\
        --frontend_config conf/frontend.yaml --lipsound2_config conf/train.yaml \\
        --init_model exp/lipsound2_pretrain/valid.loss.best.pth -- --max_epoch 12
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from lipsound2.bin.config_query import answer
from lipsound2.fileio.atomic import atomic_open, atomic_path
from lipsound2.recipe.plan import PlanError, log, parse_plan_args, print_lines, run_plan

_SOURCE = "train_plan"
#: The audio model takes these sections of the LipSound2 config (its decoder's settings).
AUDIO_SECTIONS = (
    "model_conf.decoder_conf,model_conf.postnet_conf,model_conf.encoder_conf,"
    "model_conf.in_channels,model_conf.image_size"
)


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"true or false, got {text!r}")
    return text == "true"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("key", "setup"))
    p.add_argument("--kind", choices=("av", "audio"), required=True)
    p.add_argument("--exp", type=Path, required=True, help="the experiment dir")
    p.add_argument("--config", required=True, help="the training config")
    p.add_argument("--train_set", required=True)
    p.add_argument("--valid_set", required=True)
    p.add_argument("--dumpdir", type=Path, required=True)
    p.add_argument("--seed", default="0")
    p.add_argument("--feats_normalize", choices=("global_mvn", "none"), default="global_mvn")
    p.add_argument("--lipsound2_config", required=True, help="--train_config: the audio model's decoder")
    p.add_argument("--frontend_config", required=True, help="taken when the data record no settings")
    init = p.add_argument_group("stage 4: what the training starts from (an empty value: nothing)")
    init.add_argument("--init_model", default=None, help="the whole model, but its update count")
    init.add_argument("--ss_restart", type=_bool, default=True, help="restart the update count at 0")
    init.add_argument("--decoder_model", default=None, help="the decoder side and its mel statistics")
    p.epilog = "Arguments after -- go to the trainer as they are."
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options; what follows ``--`` becomes ``trainer_args``, untouched."""
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    args = parse_plan_args(get_parser(), argv)
    args.trainer_args = rest
    return args


def init_params(args: argparse.Namespace) -> list[str]:
    """ESPnet's ``--init_param`` values (PATH:SRC_KEY:DST_KEY:EXCLUDE, applied in order)."""
    params = []
    if args.init_model:
        # all but the update count (num_updates) unless scheduled sampling goes on from it
        params.append(f"{args.init_model}:::num_updates" if args.ss_restart else args.init_model)
    if args.decoder_model:
        params += [f"{args.decoder_model}:{key}:{key}" for key in answer("decoder_side", None).split()]
        # The decoder predicts mel normalised with its model's statistics: they come along, as
        # the model's buffers (the whole-model init set the audio-visual model's) and as the
        # stats file.
        if args.feats_normalize != "none":
            params.append(f"{args.decoder_model}:normalize:normalize")
    return params


def trainer_args(args: argparse.Namespace) -> list[str]:
    """The trainer's own arguments: the initialisation, then the user's."""
    params = init_params(args)
    return (["--init_param", *params] if params else []) + args.trainer_args


def init_stats(args: argparse.Namespace) -> str:
    """The mel statistics to normalise with: those beside the model the decoder comes from
    (else the whole model's); empty: the training set's own."""
    stats = ""
    for model in (args.init_model, args.decoder_model):
        if model and os.path.isfile(os.path.join(os.path.dirname(model), "feats_stats.npz")):
            stats = os.path.join(os.path.dirname(model), "feats_stats.npz")
    return stats


def unit_head(args: argparse.Namespace) -> bool:
    return args.kind == "av" and answer("unit_head", args.config) == "true"


def key(args: argparse.Namespace) -> list[str]:
    """The step options of the training's done marker."""
    out = ["--conf", f"train={args.config}"]
    inputs = ["video.scp", "feats.scp"]
    if args.kind == "audio":
        inputs = ["feats.scp"]
        out += ["--conf", f"lipsound2={args.lipsound2_config}", "--sections", f"lipsound2={AUDIO_SECTIONS}"]
    elif unit_head(args):
        inputs.append("units.scp")
    extra = trainer_args(args)
    stats = init_stats(args)
    out += ["--opt", f"args={' '.join(extra)}", "--opt", f"seed={args.seed}"]
    out += ["--opt", f"feats_normalize={args.feats_normalize}"] + (["--file", stats] if stats else [])
    for arg in extra:
        path = arg.split(":", 1)[0]
        if os.path.isfile(path):
            out += ["--file", path]
    for dset in (args.train_set, args.valid_set):
        out += [part for name in inputs for part in ("--table", str(args.dumpdir / dset / name))]
    return out


def _write_shape(lines: list[str], path: Path) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in lines)


def _shape_lines(table: Path, suffix: str = "") -> list[str]:
    """``utt length[suffix]`` for each line of an utt2num_* table."""
    out = []
    for line in table.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 2:
            out.append(f"{fields[0]} {fields[1]}{suffix}")
    return out


def setup(args: argparse.Namespace) -> list[str]:
    """Prepare the experiment dir; the trainer module and its arguments."""
    exp = args.exp
    exp.mkdir(parents=True, exist_ok=True)
    # the experiment records the settings its training data were made with
    data_settings = args.dumpdir / args.train_set / "frontend.yaml"
    if data_settings.is_file():
        with atomic_path(exp / "frontend.yaml") as tmp:
            shutil.copyfile(data_settings, tmp)
    else:
        log(
            _SOURCE,
            f"WARNING: {args.dumpdir / args.train_set} records no front-end settings (made before they were "
            f"recorded): taking {args.frontend_config}",
        )
        from lipsound2.frontend.config import load_config, write_settings

        write_settings(load_config(args.frontend_config), exp / "frontend.yaml")
    n_mels = answer("n_mels", str(exp / "frontend.yaml"))
    units = unit_head(args)
    module, needed, data_args = (
        "lipsound2.bin.train",
        ["video.scp", "feats.scp", "utt2num_vframes", "utt2num_frames"],
        [],
    )
    if args.kind == "audio":
        module, needed = "lipsound2.bin.train_audio", ["feats.scp", "utt2num_frames"]
        data_args = ["--lipsound2_config", args.lipsound2_config]
    for split, dset in (("train", args.train_set), ("valid", args.valid_set)):
        data = args.dumpdir / dset
        for name in needed:
            if not (data / name).is_file():
                raise PlanError(f"missing {data / name}: run stages 1-2 first")
        if units and not (data / "units.scp").is_file():
            raise PlanError(
                f"{args.config} has a unit head (unit_weight > 0) but {data / 'units.scp'} is missing: "
                "run stage 2 with --unit_type"
            )
        # ESPnet's length-bucketed batch samplers read these shape files
        shapes = exp / "shapes" / dset
        shapes.mkdir(parents=True, exist_ok=True)
        tables = {"feats_shape": _shape_lines(data / "utt2num_frames", f",{n_mels}")}
        if args.kind == "av":
            tables["video_shape"] = _shape_lines(data / "utt2num_vframes")
            data_args += [f"--{split}_data_path_and_name_and_type", f"{data / 'video.scp'},video,face_track"]
            data_args += [f"--{split}_shape_file", str(shapes / "video_shape")]
        data_args += [f"--{split}_data_path_and_name_and_type", f"{data / 'feats.scp'},feats,kaldi_ark"]
        data_args += [f"--{split}_shape_file", str(shapes / "feats_shape")]
        if units:
            data_args += [f"--{split}_data_path_and_name_and_type", f"{data / 'units.scp'},units,kaldi_ark"]
            # only utterances with units (stage 2 lists the others in units_rejects)
            with_units = {line.split()[0] for line in _shape_lines(data / "units.scp")}
            tables = {
                name: [line for line in lines if line.split()[0] in with_units]
                for name, lines in tables.items()
            }
        for name, lines in tables.items():
            _write_shape(lines, shapes / name)
    norm_args = []
    if args.feats_normalize == "global_mvn":
        stats_file = exp / "feats_stats.npz"
        if not stats_file.is_file():
            stats = init_stats(args)
            if stats:
                with atomic_path(stats_file) as tmp:
                    shutil.copyfile(stats, tmp)
            else:
                log(_SOURCE, f"Mel statistics of {args.train_set}: {stats_file}")
                from lipsound2.bin.feats_stats import main as feats_stats

                feats_stats([str(args.dumpdir / args.train_set / "feats.scp"), str(stats_file)])
        norm_args = ["--normalize", "global_mvn", "--normalize_conf", f"stats_file={stats_file}"]
    return [module, *data_args, *norm_args, *trainer_args(args)]


def _run(args: argparse.Namespace) -> None:
    if args.action == "key":
        if args.init_model is not None:  # stage 4 says what it starts from
            params = init_params(args)
            log(
                _SOURCE,
                f"Initialisation: {' '.join(['--init_param', *params]) if params else 'from scratch'}",
            )
        print_lines(key(args))
    else:
        print_lines(setup(args))


def main(argv: list[str] | None = None) -> int:
    return run_plan(_SOURCE, _run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

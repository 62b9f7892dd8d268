"""What stage 6 reads and runs for a vocoder type; the stage script launches the jobs.

The vocoder types and what each needs come from :mod:`lipsound2.vocoders.types`: a type in
``TRAINED_TYPES`` is trained here unless the user brings a checkpoint, a type in ``UNIT_TYPES``
reads the speech units beside each mel, and a vocoder config with a ``speaker`` section gives
such a type the speaker embeddings of its training audio. Each action prints one item a line
(``read_lines`` of utils/stage_lib.sh), or nothing:

``speaker_dir``  the folder of the training audio's speaker embeddings, when they are needed;
``train_key``    the done-marker options of the vocoder training (config, type, training
                 audio, units, speakers: a change trains again);
``train_args``   the arguments of ``lipsound2.bin.train_vocoder`` for them;
``vocode_key``   the done-marker options of vocoding ``--feats`` (one mel and one vocoder:
                 its type, its config section or checkpoint, the units);
``vocode_args``  the arguments of ``lipsound2.bin.vocode`` for ``--feats`` of set ``--set``;
``collect``      after the vocoding jobs: ``OUT/wav.scp`` and ``OUT/log/failed`` of theirs;
``gta_key``      the done-marker options of the teacher-forced (GTA) mel of ``--set`` by
                 ``--model_file`` (``--vocoder_finetune``);
``gta_args``     the arguments of ``lipsound2.bin.gta_mel`` for it (its jobs add theirs);
``gta_collect``  after the GTA jobs: ``OUT/feats.scp``, ``utt2num_frames``, ``frontend.yaml``
                 and ``failed`` of theirs.

With ``--gta_feats`` (a GTA mel of the training set) the training is the fine-tuning of
``--vocoder_finetune true``: the config must start from the pre-trained weights and have a
GTA phase (``train.init_pretrained``, ``train.gta_steps``), and the GTA mel is part of its key.

    python -m lipsound2.bin.vocoder_plan vocode_key --vocoder_type hifigan_units \\
        --vocoder_config conf/vocoder.yaml --vocoder_file exp/vocoder_units_vocoder/vocoder.pth \\
        --dumpdir dump --train_set train --feats exp/x/decode_test_tag/feats.scp
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from lipsound2.recipe.plan import (
    PlanError,
    job_files,
    log,
    merge_job_tables,
    parse_plan_args,
    print_lines,
    run_plan,
)
from lipsound2.vocoders.types import TRAINED_TYPES, UNIT_TYPES, VOCODER_TYPES

_SOURCE = "vocoder_plan"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "action",
        choices=(
            *("speaker_dir", "train_key", "train_args", "vocode_key", "vocode_args", "collect"),
            *("gta_key", "gta_args", "gta_collect"),
        ),
    )
    p.add_argument("--vocoder_type", choices=VOCODER_TYPES, required=True)
    p.add_argument("--vocoder_config", required=True)
    p.add_argument("--vocoder_file", default="", help="the checkpoint vocoding reads (empty: none)")
    p.add_argument("--dumpdir", type=Path, required=True)
    p.add_argument("--train_set", default="", help="the set whose audio trains the vocoder")
    p.add_argument("--feats", default=None, help="vocode_*: the mel to vocode (a feats.scp)")
    p.add_argument("--set", default=None, help="vocode_args: the set of --feats (its speakers)")
    p.add_argument("--out_dir", type=Path, default=None, help="collect: the folder vocoded into")
    p.add_argument("--num_jobs", type=int, default=1, help="collect: the vocoding jobs")
    p.add_argument("--gta_feats", default="", help="train_*: the GTA mel to fine-tune on (empty: none)")
    p.add_argument("--model_file", default=None, help="gta_*: the model whose teacher-forced mel it is")
    return p


def units_of(feats: str, vocoder_type: str) -> str:
    """The units beside a feats.scp, which a ``UNIT_TYPES`` vocoder reads."""
    units = os.path.join(os.path.dirname(feats), "units.scp")
    if not os.path.isfile(units):
        raise PlanError(
            f"--vocoder_type {vocoder_type} needs {units} (dump: stage 2 with --unit_type; decode dirs: "
            "a model with a unit head)"
        )
    return units


def speaker_dir(args: argparse.Namespace) -> str:
    """The speaker embeddings' folder, or empty when this vocoder takes no speaker input."""
    if args.vocoder_type not in UNIT_TYPES:
        return ""
    from lipsound2.bin.config_query import answer

    if answer("speaker_input", args.vocoder_config) != "true":
        return ""
    return str(args.dumpdir / args.train_set / "speaker")


def train_inputs(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The vocoder training's key options and its arguments."""
    if args.vocoder_type not in TRAINED_TYPES:
        raise PlanError(f"--vocoder_type {args.vocoder_type} is not trained here")
    data = args.dumpdir / args.train_set
    wav, frontend = str(data / "wav.scp"), str(data / "frontend.yaml")
    key = ["--conf", f"vocoder={args.vocoder_config}", "--opt", f"vocoder_type={args.vocoder_type}"]
    key += ["--table", wav, "--conf", f"frontend={frontend}"]
    train = ["--wav_scp", wav, "--frontend_config", frontend]
    if args.gta_feats:
        finetune_config(args)
        key += ["--table", args.gta_feats]
        train += ["--gta_feats_scp", args.gta_feats]
    if args.vocoder_type in UNIT_TYPES:
        units = units_of(str(data / "feats.scp"), args.vocoder_type)
        key += ["--table", units]
        train += ["--units_scp", units]
        spk = speaker_dir(args)
        if spk:
            embeddings, utt2spk = os.path.join(spk, "embeddings.npz"), str(data / "utt2spk")
            key += ["--file", embeddings, "--table", utt2spk]
            train += ["--speaker_embeddings", embeddings, "--utt2spk", utt2spk]
    return key, train


def finetune_config(args: argparse.Namespace) -> None:
    """Refuse a GTA fine-tuning of another type than ``hifigan`` or from a config without the
    pre-trained start and the GTA phase, naming the file to start from."""
    from lipsound2.fileio.yamlio import load_yaml

    example = "conf/vocoder_hifigan_pretrained_finetune.yaml of egs/TEMPLATE"
    if args.vocoder_type != "hifigan":
        raise PlanError(f"--vocoder_finetune true fine-tunes --vocoder_type hifigan, not {args.vocoder_type}")
    train = load_yaml(args.vocoder_config).get("train") or {}
    if not train.get("init_pretrained") or int(train.get("gta_steps", 0)) <= 0:
        raise PlanError(
            f"--vocoder_finetune true needs train.init_pretrained: true and train.gta_steps > 0 in "
            f"{args.vocoder_config} (see {example})"
        )


def gta_inputs(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The GTA mel of ``--set``: its key options and the arguments of ``lipsound2.bin.gta_mel``."""
    if not args.set or not args.model_file:
        raise PlanError("gta_key and gta_args need --set and --model_file")
    data, exp = args.dumpdir / args.set, os.path.dirname(args.model_file)
    video, feats = str(data / "video.scp"), str(data / "feats.scp")
    config = os.path.join(exp, "config.yaml")
    key = ["--file", args.model_file, "--file", config, "--table", video, "--table", feats]
    gta = ["--train_config", config, "--frontend_config", os.path.join(exp, "frontend.yaml")]
    gta += ["--model_file", args.model_file, "--data_path", video, "--feats_scp", feats]
    return key, gta


def gta_collect(out_dir: Path, num_jobs: int) -> None:
    """The GTA jobs' tables (``log/output.JOB``) into ``out_dir``; their failures into ``failed``."""
    outputs = str(out_dir / "log" / "output.JOB")
    for name in ("feats.scp", "utt2num_frames"):
        merge_job_tables(f"{outputs}/{name}", num_jobs, out_dir / name)
    shutil.copy(Path(outputs.replace("JOB", "1")) / "frontend.yaml", out_dir / "frontend.yaml")
    failed = "".join(
        Path(p).read_text(encoding="utf-8")
        for p in job_files(f"{outputs}/failed", num_jobs)
        if Path(p).is_file()
    )
    (out_dir / "failed").write_text(failed, encoding="utf-8")
    if failed:
        log(
            _SOURCE,
            f"WARNING: {len(failed.splitlines())} utterances have no GTA mel, see {out_dir / 'failed'}",
        )


def vocode_inputs(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Vocoding ``--feats``: its key options and the arguments of ``lipsound2.bin.vocode``."""
    if not args.feats:
        raise PlanError("vocode_key and vocode_args need --feats")
    ckpt = ["--file", args.vocoder_file] if args.vocoder_file else []
    key = ["--table", args.feats, "--opt", f"vocoder_type={args.vocoder_type}", *ckpt]
    if args.vocoder_type not in TRAINED_TYPES:
        # a vocoder with no checkpoint here reads its section of the config
        key += ["--conf", f"vocoder={args.vocoder_config}", "--sections", f"vocoder={args.vocoder_type}"]
    vocode = []
    if args.vocoder_type in UNIT_TYPES:
        units = units_of(args.feats, args.vocoder_type)
        key += ["--table", units]
        vocode += ["--units_scp", units]
        utt2spk = args.dumpdir / (args.set or "") / "utt2spk"
        if args.set and utt2spk.is_file():
            vocode += ["--utt2spk", str(utt2spk)]
    vocode += ["--vocoder_type", args.vocoder_type, "--vocoder_config", args.vocoder_config]
    vocode += ["--vocoder_file", args.vocoder_file] if args.vocoder_file else []
    vocode += ["--frontend_config", os.path.join(os.path.dirname(args.feats), "frontend.yaml")]
    return key, vocode


def collect(out_dir: Path, num_jobs: int) -> None:
    """The jobs' wav tables into ``out_dir/wav.scp``, their failures into ``log/failed``."""
    logdir = out_dir / "log"
    merge_job_tables(str(logdir / "wav.JOB.scp"), num_jobs, out_dir / "wav.scp")
    failed = "".join(
        Path(p).read_text(encoding="utf-8") for p in job_files(str(logdir / "wav.JOB.scp.failed"), num_jobs)
    )
    (logdir / "failed").write_text(failed, encoding="utf-8")
    if failed:
        log(_SOURCE, f"WARNING: {len(failed.splitlines())} utterances failed, see {logdir / 'failed'}")


def _run(args: argparse.Namespace) -> None:
    if args.action == "speaker_dir":
        print_lines([d for d in [speaker_dir(args)] if d])
    elif args.action in ("train_key", "train_args"):
        print_lines(train_inputs(args)[args.action == "train_args"])
    elif args.action in ("vocode_key", "vocode_args"):
        print_lines(vocode_inputs(args)[args.action == "vocode_args"])
    elif args.action in ("gta_key", "gta_args"):
        print_lines(gta_inputs(args)[args.action == "gta_args"])
    elif args.action == "gta_collect":
        if args.out_dir is None:
            raise PlanError("gta_collect needs --out_dir")
        gta_collect(args.out_dir, args.num_jobs)
    else:
        if args.out_dir is None:
            raise PlanError("collect needs --out_dir")
        collect(args.out_dir, args.num_jobs)


def main(argv: list[str] | None = None) -> int:
    return run_plan(_SOURCE, _run, parse_plan_args(get_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())

"""What stage 8 scores and reports; the stage script launches the scoring and judge jobs.

The rows of RESULTS.md are the audio gold standard, the real-audio ASR, the oracle (vocoded
ground truth), this experiment and the user's ``--score_extra_exps`` (``;``-separated
``LABEL=DIR``, DIR with ``{set}`` for the test set and ``{decode}`` for
``decode_{set}_<inference tag>``). Each action prints one item a line (``read_lines`` of
utils/stage_lib.sh):

``steps``  the scoring steps, tab-separated: ``score REF_WAV_SCP DIR`` (PESQ/STOI/ESTOI of a
           row's speech) and ``judge NAME WAV_SCP DIR`` (an off-the-shelf ASR's hypotheses,
           English only). It first refuses real-audio ASR rows that another experiment's
           cascade wrote (its base ASR is not this one's: stage 7 must run again);
``key``    the done-marker options of the report: every row's scores and hypotheses, the
           configs it quotes, the settings in force;
``args``   the arguments of ``lipsound2.bin.make_report``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lipsound2.recipe.marker import recorded_option
from lipsound2.recipe.plan import PlanError, parse_plan_args, print_lines, run_plan

_SOURCE = "report_plan"
PESQ_NOTE = "PESQ (NB) is ITU-T P.862 narrowband; P.862.2 wideband is in the full tables."


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("steps", "key", "args"))
    p.add_argument("--expdir", required=True)
    p.add_argument("--dumpdir", required=True)
    p.add_argument("--train_exp", required=True)
    p.add_argument("--train_tag", required=True, help="the report's title")
    p.add_argument("--test_sets", required=True, help="space-separated")
    p.add_argument("--inference_tag", required=True)
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--judges", default="", help="space-separated judge ASRs, or none")
    p.add_argument("--judge_model", default="", help="the whisper judge's model dir")
    p.add_argument("--score_label", required=True)
    p.add_argument("--score_extra_exps", default="")
    p.add_argument("--num_plots", default="3")
    p.add_argument("--vocoder_type", required=True)
    p.add_argument("--vocoder_file", default="", help="the vocoder checkpoint, for the note")
    p.add_argument("--asr_pretrained_model", default="")
    p.add_argument("--asr_lr_factor", default="0.1")
    p.add_argument("--use_lm", choices=("true", "false"), default="true")
    p.add_argument("--ngram_order", default="3")
    confs = p.add_argument_group("the configs the report quotes")
    for name in ("train_config", "inference_config", "vocoder_config", "asr_config", "asr_finetune_config"):
        confs.add_argument(f"--{name}", required=True)
    return p


def rows(args: argparse.Namespace) -> list[str]:
    """``LABEL=DIR`` of every row, ``{set}`` standing for the test set."""
    out = [
        f"Audio gold standard={args.expdir}/real_{{set}}",
        "Real audio, ASR trained on this corpus (paper row: + fine-tuning)="
        f"{args.expdir}/real_asr_trained_{{set}}",
        f"Oracle (vocoded ground truth, {args.vocoder_type})={args.train_exp}/oracle_{{set}}",
        f"{args.score_label}={args.train_exp}/{{decode}}",
    ]
    out += [row for row in args.score_extra_exps.split(";") if row.replace(" ", "")]
    return [row.replace("{decode}", f"decode_{{set}}_{args.inference_tag}") for row in out]


def row_dir(row: str, dset: str) -> str:
    return row.partition("=")[2].replace("{set}", dset) if "=" in row else row.replace("{set}", dset)


def check_real_asr_rows(args: argparse.Namespace) -> None:
    """The real-audio ASR rows are shared by a recipe's experiments: stage 7 writes them for its
    cascade's base ASR. Another experiment's are never reported under this one's name."""
    base = Path(args.train_exp) / f"asr_finetune_{args.inference_tag}" / "base_model"
    for dset in args.test_sets.split():
        # the row of this recipe's ASR mode: a pre-trained ASR's gold standard, or one trained here
        real = f"real_{dset}" if args.asr_pretrained_model else f"real_asr_trained_{dset}"
        hyp = Path(args.expdir) / real / "hyp" / "asr.txt"
        model = hyp.with_name("asr.txt.model")
        if base.is_file() and model.is_file():
            made_by, ours = model.read_text().rstrip("\n"), base.read_text().rstrip("\n")
            if made_by != ours:
                raise PlanError(
                    f"{hyp} comes from another base ASR ({made_by.split(' ')[0]}) than the cascade of "
                    f"{args.train_exp} ({ours.split(' ')[0]}): run its stage 7 again "
                    "(it decodes only the real audio)"
                )


def check_vocoder(args: argparse.Namespace) -> None:
    """The report names ``--vocoder_type`` as the vocoder of its main rows: refuse audio that
    stage 6 made with another one (its marker records the type)."""
    for dset in args.test_sets.split():
        for row in rows(args)[2:4]:  # the oracle and this experiment's decode
            directory = row_dir(row, dset)
            made_by = recorded_option(directory, "vocode", "vocoder_type")
            if made_by is not None and made_by != args.vocoder_type:
                raise PlanError(
                    f"{directory} was vocoded with {made_by}, and the report would name --vocoder_type "
                    f"{args.vocoder_type}: run stage 8 with --vocoder_type {made_by}, or stage 6 with "
                    f"--vocoder_type {args.vocoder_type} first"
                )


def steps(args: argparse.Namespace) -> list[str]:
    check_real_asr_rows(args)
    check_vocoder(args)
    judges = [j for j in args.judges.split() if j != "none"] if args.lang == "en" else []

    def judge(wav: str, directory: str) -> list[str]:
        return [f"judge\t{name}\t{wav}\t{directory}" for name in judges]

    out = []
    for dset in args.test_sets.split():
        ref = f"{args.dumpdir}/{dset}/wav.scp"
        out += judge(ref, f"{args.expdir}/real_{dset}")
        for row in rows(args):
            directory = row_dir(row, dset)
            if os.path.isfile(f"{directory}/wav.scp"):
                out += [f"score\t{ref}\t{directory}", *judge(f"{directory}/wav.scp", directory)]
    return out


def settings(args: argparse.Namespace) -> list[str]:
    """The settings in force, which RESULTS.md compares with the paper's."""
    out = ["--vocoder_type", args.vocoder_type]
    for name, path in (
        ("train_exp_config", f"{args.train_exp}/config.yaml"),
        ("inference_config", args.inference_config),
        ("frontend_config", f"{args.train_exp}/frontend.yaml"),
    ):
        out += [f"--{name}", path] if os.path.isfile(path) else []
    asr_config = asr_exp_config(args)
    if os.path.isfile(asr_config):
        order = args.ngram_order if args.use_lm == "true" else "0"
        out += ["--asr_exp_config", asr_config, "--asr_pretrained_model", args.asr_pretrained_model]
        out += ["--asr_lr_factor", args.asr_lr_factor, "--ngram_order", order]
    return out


def asr_exp_config(args: argparse.Namespace) -> str:
    return f"{args.train_exp}/asr_finetune_{args.inference_tag}/config.yaml"


def note(args: argparse.Namespace) -> str:
    ckpt = f" ({args.vocoder_file})" if args.vocoder_file else ""
    return f"Vocoder: {args.vocoder_type}{ckpt}. {PESQ_NOTE}"


def exp_args(args: argparse.Namespace) -> list[str]:
    return [part for row in rows(args) for part in ("--exp", row)]


def key(args: argparse.Namespace) -> list[str]:
    """The report reads every row's scores and hypotheses, the confs it quotes and the settings."""
    out = ["--opt", f"rows={' '.join(exp_args(args))}", "--opt", f"settings={' '.join(settings(args))}"]
    out += [
        "--opt",
        f"note={note(args)}",
        "--opt",
        f"lang={args.lang}",
        "--opt",
        f"num_plots={args.num_plots}",
    ]
    out += ["--opt", f"judges={args.judges}"]
    for role, path in (  # the training's settings: its config.yaml below
        ("vocoder", args.vocoder_config),
        ("asr", args.asr_config),
        ("asr_finetune", args.asr_finetune_config),
        ("inference", args.inference_config),
    ):
        out += ["--quote", f"{role}={path}"]
    out += ["--file", f"{args.train_exp}/config.yaml", "--file", f"{args.train_exp}/frontend.yaml"]
    out += ["--file", asr_exp_config(args)]
    for dset in args.test_sets.split():
        out += ["--table", f"{args.dumpdir}/{dset}/text", "--table", f"{args.dumpdir}/{dset}/wav.scp"]
        out += [
            "--tree",
            f"{args.expdir}/real_{dset}/hyp",
            "--tree",
            f"{args.expdir}/real_asr_trained_{dset}/hyp",
        ]
        for row in rows(args):
            directory = row_dir(row, dset)
            out += [
                "--table",
                f"{directory}/wav.scp",
                "--tree",
                f"{directory}/scores",
                "--tree",
                f"{directory}/hyp",
            ]
    return out


def report_args(args: argparse.Namespace) -> list[str]:
    out = [
        part for dset in args.test_sets.split() for part in ("--test_set", f"{dset}={args.dumpdir}/{dset}")
    ]
    out += exp_args(args) + ["--lang", args.lang, "--results", f"{args.train_exp}/RESULTS.md"]
    out += ["--html", f"{args.train_exp}/report/index.html", "--title", args.train_tag]
    # the model's training as it ran (ESPnet's config.yaml), not --train_config as it reads now
    trained = f"{args.train_exp}/config.yaml"
    train_config = trained if os.path.isfile(trained) else args.train_config
    for conf in (train_config, args.vocoder_config, args.asr_config, args.asr_finetune_config):
        out += ["--conf", conf]
    out += ["--note", note(args), "--num_samples", args.num_plots, *settings(args)]
    return out


def _run(args: argparse.Namespace) -> None:
    print_lines({"steps": steps, "key": key, "args": report_args}[args.action](args))


def main(argv: list[str] | None = None) -> int:
    return run_plan(_SOURCE, _run, parse_plan_args(get_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())

"""What stage 5 reads and makes of a set; the stage script launches the inference jobs.

``key`` prints the done-marker options of a decode dir, one a line (``read_lines`` of
utils/stage_lib.sh): the inference config, the model file and its config, the set's tracks,
``--gpu_inference`` and ``--num_plots``, and for a model with a unit head stage 2's units,
which its predicted units are scored against. Another model file (retrained), inference config
or device decodes again.

``collect`` makes one decode dir out of the jobs' outputs. The jobs (``lipsound2.bin.infer``,
launched by the stage script through the job runner) write ``DECODE_DIR/log/output.JOB/``.
This merges their ``feats.scp``, ``att_ws.scp`` and ``utt2num_frames`` into ``DECODE_DIR``; a
model with a unit head also predicts units: they are merged and scored against stage 2's
(``REF_DIR/units.scp``; the majority unit of ``--train_units`` is the baseline). The
utterances a job could not read or decode go to ``DECODE_DIR/log/failed``, and the first
``--num_plots`` utterances get attention / mel figures::

    python -m lipsound2.bin.decode_plan collect --decode_dir exp/x/decode_test_tag --num_jobs 4 \\
        --ref_dir dump/test --train_units dump/train/units.scp --num_plots 3
"""

from __future__ import annotations

import argparse
import contextlib
import io
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

_SOURCE = "decode_plan"
TABLES = ("feats.scp", "att_ws.scp", "utt2num_frames")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("key", "collect"))
    p.add_argument("--decode_dir", type=Path, required=True)
    p.add_argument("--ref_dir", type=Path, required=True, help="the set's dump dir (video, feats, units)")
    p.add_argument("--num_plots", type=int, default=3)
    key = p.add_argument_group("key")
    key.add_argument("--inference_config", default=None)
    key.add_argument("--model_file", default=None)
    key.add_argument("--train_config", default=None, help="the experiment's config.yaml")
    key.add_argument("--gpu_inference", default="false")
    collect = p.add_argument_group("collect")
    collect.add_argument("--num_jobs", type=int, default=1, help="the jobs that wrote log/output.JOB")
    collect.add_argument(
        "--train_units", type=Path, default=None, help="units.scp whose majority unit is the baseline"
    )
    return p


def key(args: argparse.Namespace) -> list[str]:
    """The done-marker options of the decode dir."""
    if not (args.inference_config and args.model_file and args.train_config):
        raise PlanError("key needs --inference_config, --model_file and --train_config")
    from lipsound2.bin.config_query import answer

    out = ["--conf", f"inference={args.inference_config}", "--file", args.model_file]
    out += ["--file", args.train_config, "--table", str(args.ref_dir / "video.scp")]
    out += ["--opt", f"gpu_inference={args.gpu_inference}", "--opt", f"num_plots={args.num_plots}"]
    if answer("unit_head", args.train_config) == "true":
        out += ["--table", str(args.ref_dir / "units.scp")]
    return out


def _unit_accuracy(ddir: Path, ref: Path, train: Path | None) -> None:
    """unit_accuracy.json, and its report on standard output and in log/unit_accuracy.log."""
    from lipsound2.bin import unit_accuracy

    train = train if train is not None and train.is_file() else ref
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        unit_accuracy.main(
            ["--ref", str(ref), "--hyp", str(ddir / "units.scp"), "--train_ref", str(train)]
            + ["--out", str(ddir / "unit_accuracy.json")]
        )
    print(report.getvalue(), end="")
    (ddir / "log" / "unit_accuracy.log").write_text(report.getvalue(), encoding="utf-8")


def collect(args: argparse.Namespace) -> None:
    ddir, logdir, n = args.decode_dir, args.decode_dir / "log", args.num_jobs
    outputs = str(logdir / "output.JOB")
    for name in TABLES:
        if missing := [p for p in job_files(f"{outputs}/{name}", n) if not Path(p).is_file()]:
            raise PlanError(f"inference job output missing: {' '.join(missing)} (see {logdir}/infer.*.log)")
        merge_job_tables(f"{outputs}/{name}", n, ddir / name)
    if (logdir / "output.1" / "units.scp").is_file():
        merge_job_tables(f"{outputs}/units.scp", n, ddir / "units.scp")
        if (args.ref_dir / "units.scp").is_file():
            _unit_accuracy(ddir, args.ref_dir / "units.scp", args.train_units)
    else:
        for name in ("units.scp", "unit_accuracy.json"):
            (ddir / name).unlink(missing_ok=True)
    # a job lists the utterances it could not read or decode in failed (absent when none)
    failed = "".join(
        Path(p).read_text(encoding="utf-8") for p in job_files(f"{outputs}/failed", n) if Path(p).is_file()
    )
    (logdir / "failed").write_text(failed, encoding="utf-8")
    if failed:
        log(
            _SOURCE,
            f"WARNING: {len(failed.splitlines())} utterances were not decoded, see {logdir / 'failed'}",
        )
    from lipsound2.bin import plot_alignment

    plot_alignment.main(
        [
            "--decode_dir",
            str(ddir),
            "--ref_feats",
            str(args.ref_dir / "feats.scp"),
            "--num_plots",
            str(args.num_plots),
        ]
    )


def _run(args: argparse.Namespace) -> None:
    if args.action == "key":
        print_lines(key(args))
    else:
        collect(args)


def main(argv: list[str] | None = None) -> int:
    return run_plan(_SOURCE, _run, parse_plan_args(get_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())

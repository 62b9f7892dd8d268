"""What stage 2's speech units read and run; the stage script launches the extraction job.

Units are one per mel frame, from a k-means model fitted on the training set's frames
(``--units_exp``/kmeans.npz): a refit makes every set's units again; a set whose mel changed,
its own. Each action prints one item a line (``read_lines`` of utils/stage_lib.sh):

``key``   the done-marker options the k-means fit and every set's units share: the unit
          options, the seed, the encoder's files;
``args``  the arguments of ``lipsound2.bin.extract_units`` but the data dirs, the device
          first (``cuda`` for a torch content encoder when ``--ngpu`` > 0: whisper's CTranslate2
          build here has no CUDA libraries of its own)::

    python -m lipsound2.bin.units_plan args --unit_type hubert --unit_k 200 \\
        --unit_encoder_file hubert.pt --units_exp exp/units_hubert_k200 --fit_dir dump/train --ngpu 1
"""

from __future__ import annotations

import argparse
import sys

from lipsound2.recipe.plan import parse_plan_args, print_lines, run_plan

_SOURCE = "units_plan"
#: the content encoders that run on a GPU when the recipe has them
GPU_ENCODERS = ("hubert", "wav2vec2")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("key", "args"))
    p.add_argument("--unit_type", required=True)
    p.add_argument("--unit_k", required=True)
    p.add_argument("--unit_layer", default="")
    p.add_argument("--unit_encoder_file", default="")
    p.add_argument("--unit_encoder_config", default="")
    p.add_argument("--unit_max_fit_frames", default="100000")
    p.add_argument("--seed", default="0")
    p.add_argument("--units_exp", default="", help="args: the folder of kmeans.npz")
    p.add_argument("--fit_dir", default="", help="args: the training set's dump dir")
    p.add_argument("--max_reject_share", default="0.1")
    p.add_argument("--ngpu", type=int, default=0)
    return p


def key(args: argparse.Namespace) -> list[str]:
    out = [
        f"{name}={getattr(args, name)}"
        for name in ("unit_type", "unit_k", "unit_layer", "unit_encoder_file", "unit_max_fit_frames", "seed")
    ]
    out = [part for opt in out for part in ("--opt", opt)]
    out += ["--file", args.unit_encoder_file] if args.unit_encoder_file else []
    out += ["--conf", f"unit_encoder={args.unit_encoder_config}"] if args.unit_encoder_config else []
    return out


def extract_args(args: argparse.Namespace) -> list[str]:
    device = "cuda" if args.ngpu > 0 and args.unit_type in GPU_ENCODERS else "cpu"
    out = [device, "--unit_type", args.unit_type, "--device", device]
    out += ["--frontend_config", f"{args.fit_dir}/frontend.yaml", "--kmeans", f"{args.units_exp}/kmeans.npz"]
    out += ["--fit_dir", args.fit_dir, "--k", args.unit_k, "--seed", args.seed]
    out += ["--max_fit_frames", args.unit_max_fit_frames, "--max_reject_share", args.max_reject_share]
    out += ["--encoder_file", args.unit_encoder_file] if args.unit_encoder_file else []
    out += ["--encoder_config", args.unit_encoder_config] if args.unit_encoder_config else []
    out += ["--layer", args.unit_layer] if args.unit_layer else []
    return out


def _run(args: argparse.Namespace) -> None:
    print_lines(key(args) if args.action == "key" else extract_args(args))


def main(argv: list[str] | None = None) -> int:
    return run_plan(_SOURCE, _run, parse_plan_args(get_parser(), argv))


if __name__ == "__main__":
    sys.exit(main())

"""The stage options that ``--paper_settings true`` selects, from :mod:`lipsound2.paper`.

Prints one ``name=value`` line per option of the stage script, each value quoted for the
shell where it needs it, so that the stage script can take them all with ``eval``:

    eval "$(python -m lipsound2.bin.paper_options --conf_dir "${conf_dir}")"

``--conf_dir`` is the folder holding the paper configs (the template's ``conf``); the config
options name the files there. Exit status 2 when one of those files is missing.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from lipsound2 import paper


def paper_options(conf_dir: Path) -> dict[str, str]:
    """Stage option -> value, in the order the stage script declares them."""
    train_config = str(conf_dir / paper.TRAIN_CONFIG)
    return {
        "pretrain_config": train_config,
        "train_config": train_config,
        "inference_config": str(conf_dir / paper.INFERENCE_CONFIG),
        "feats_normalize": paper.FEATS_NORMALIZE,
        "vocoder_type": paper.VOCODER_STAND_IN,
        "use_lm": "true" if paper.NGRAM_ORDER > 0 else "false",
        "ngram_order": str(paper.NGRAM_ORDER),
        "asr_lr_factor": str(paper.ASR_LR_FACTOR),
    }


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--conf_dir",
        type=Path,
        required=True,
        help=f"folder of the paper configs ({paper.TRAIN_CONFIG}, {paper.INFERENCE_CONFIG})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    configs = (paper.TRAIN_CONFIG, paper.INFERENCE_CONFIG)
    missing = [name for name in configs if not (args.conf_dir / name).is_file()]
    if missing:
        print(f"paper_options: {args.conf_dir} has no {', '.join(missing)}", file=sys.stderr)
        return 2
    for name, value in paper_options(args.conf_dir).items():
        print(f"{name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

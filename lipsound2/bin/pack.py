"""Pack a trained model into one zip file for ``Video2Speech.from_pretrained`` (recipe stage 9).

The pack holds the training config, the model file, the mel statistics (when the model
normalises its targets: ``--stats_file``, by default the file its config names), the
front-end config (how a video is cropped, the mel), the inference config, the vocoder (type,
config and HiFi-GAN checkpoint) and a model card: ``meta.yaml`` (corpus, protocol, git hash,
versions of lipsound2 and torch, the sha256 of every member) and ``README.md`` (with the
tables of ``--results``, the recipe's RESULTS.md). See lipsound2/inference/pack.py.

The model and the vocoder are loaded once before the pack is written, so a pack that could
not be loaded is never written.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.inference.options import load_inference_config
from lipsound2.inference.pack import MEMBERS, write_pack
from lipsound2.inference.video2speech import Video2Speech
from lipsound2.tasks.checkpoint import model_frontend
from lipsound2.vocoders.factory import add_vocoder_arguments
from lipsound2.vocoders.types import TRAINED_TYPES


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train_config", required=True, help="config.yaml of the training experiment")
    p.add_argument("--model_file", required=True, help="model file, e.g. exp/x/valid.loss.best.pth")
    p.add_argument(
        "--stats_file", default=None, help="mel statistics (default: the config's, if it normalises)"
    )
    p.add_argument(
        "--frontend_config",
        default=None,
        help="front-end YAML of the features (default: the experiment's frontend.yaml, else defaults)",
    )
    p.add_argument("--inference_config", default=None, help="stage 5's inference YAML (default: defaults)")
    add_vocoder_arguments(p)
    p.add_argument("--corpus", default="", help="corpus name for the model card")
    p.add_argument("--protocol", default="", help="split protocol for the model card")
    p.add_argument("--results", default=None, help="RESULTS.md whose tables the model card shows")
    p.add_argument("--outpath", required=True, help="the zip file to write")
    return p


def stats_of(train_config: str, stats_file: str | None) -> str | None:
    """The statistics file to pack: ``stats_file``, else the config's; None when the model does
    not normalise (then a given ``stats_file`` is an error)."""
    config = load_yaml(train_config)
    if config.get("normalize") is None:
        if stats_file is not None:
            raise ValueError(f"{train_config}: the model does not normalise its mel; drop --stats_file")
        return None
    return stats_file or (config.get("normalize_conf") or {}).get("stats_file")


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args.stats_file = stats_of(args.train_config, args.stats_file)
    args.frontend_config = model_frontend(args.train_config, args.frontend_config)
    if args.vocoder_type not in TRAINED_TYPES and args.vocoder_file is not None:
        logging.info(
            "vocoder_type %s uses no vocoder file: %s is not packed", args.vocoder_type, args.vocoder_file
        )
        args.vocoder_file = None
    files = {role: getattr(args, role) for role in MEMBERS if getattr(args, role) is not None}
    options = load_inference_config(args.inference_config) if args.inference_config else {}
    # load as the pack will be loaded (the model checked against the front end, the vocoder too)
    Video2Speech(
        args.train_config,
        args.model_file,
        args.frontend_config,
        vocoder_type=args.vocoder_type,
        vocoder_config=args.vocoder_config,
        vocoder_file=args.vocoder_file,
        stats_file=args.stats_file,
        **options,
    )
    meta = write_pack(args.outpath, files, args.vocoder_type, args.corpus, args.protocol, args.results)
    logging.info("packed %s: %s", args.outpath, ", ".join(meta["sha256"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the HiFi-GAN vocoder on real training audio (wav.scp); writes OUTDIR/vocoder.pth.

The audio rate and the log-mel it learns to invert are those of ``--frontend_config``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lipsound2.fileio.table import read_table
from lipsound2.frontend.config import load_config as load_frontend_config
from lipsound2.vocoders.factory import load_config
from lipsound2.vocoders.hifigan_train import TrainOptions, train_hifigan


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--wav_scp", required=True, action="append", help="training audio (repeatable)")
    p.add_argument(
        "--config", required=True, help="vocoder YAML: generator_params, discriminator_params, train"
    )
    p.add_argument(
        "--frontend_config", default=None, help="front-end YAML of the features (default: its defaults)"
    )
    p.add_argument("--outdir", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = load_config(args.config)
    paths = [path for scp in args.wav_scp for path in read_table(scp).values()]
    options = TrainOptions(**config.get("train", {}))
    curve = train_hifigan(
        paths,
        args.outdir,
        config.get("generator_params", {}),
        config.get("discriminator_params", {}),
        options,
        load_frontend_config(args.frontend_config).mel,
    )
    logging.info(
        "mel L1 %.4f at step %d -> %.4f at step %d", curve[0][1], curve[0][0], curve[-1][1], curve[-1][0]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

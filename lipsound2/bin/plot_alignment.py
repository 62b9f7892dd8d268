"""PNG figures of a decoded set (the paper's Fig. 5 and 6): per utterance, the attention
alignment and the generated mel spectrogram above the target one."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lipsound2.fileio.ark import load_array  # noqa: E402
from lipsound2.fileio.atomic import atomic_path  # noqa: E402
from lipsound2.fileio.table import read_table  # noqa: E402


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--decode_dir", required=True, help="folder with feats.scp and att_ws.scp from infer")
    p.add_argument("--ref_feats", default=None, help="target feats.scp (optional)")
    p.add_argument("--num_plots", type=int, default=3)
    p.add_argument("--output_dir", default=None, help="default: <decode_dir>/plots")
    return p


def plot_utterance(key: str, mel, att, ref, path: Path) -> None:
    rows = 3 if ref is not None else 2
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.6 * rows), constrained_layout=True)
    axes[0].imshow(att.T, aspect="auto", origin="lower", interpolation="none")
    axes[0].set(title=f"{key}: attention alignment", xlabel="decoder step", ylabel="video frame")
    axes[1].imshow(mel.T, aspect="auto", origin="lower", interpolation="none")
    axes[1].set(title="generated log-mel", ylabel="mel band")
    if ref is not None:
        axes[2].imshow(ref.T, aspect="auto", origin="lower", interpolation="none")
        axes[2].set(title="target log-mel", xlabel="frame", ylabel="mel band")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def main(cmd: list[str] | None = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s: %(message)s")
    decode = Path(args.decode_dir)
    out = Path(args.output_dir) if args.output_dir else decode / "plots"
    mels = read_table(decode / "feats.scp")
    atts = read_table(decode / "att_ws.scp")
    refs = read_table(args.ref_feats) if args.ref_feats else {}
    for key in list(mels)[: args.num_plots]:
        ref = load_array(refs[key]) if key in refs else None
        plot_utterance(key, load_array(mels[key]), load_array(atts[key]), ref, out / f"{key}.png")
    logging.info("wrote %d figures to %s", min(args.num_plots, len(mels)), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

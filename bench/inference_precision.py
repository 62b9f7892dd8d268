"""What inference precision costs in quality and buys in time, on a trained model.

Not a test: run by hand in a recipe directory whose stage 4 is done. It runs the recipe's own
inference, Griffin-Lim vocoding and scoring (``lipsound2.bin.infer``/``vocode``/``score``) on
one set once per ``--precisions`` entry, with the same PreNet dropout seed, and reports per
precision: inference time and real-time factor, how far the generated mel is from the fp32
mel (relative Frobenius difference, mean over utterances), and the mean ESTOI/STOI/PESQ of
the speech. A last fp32 row with another dropout seed shows how much sampling alone moves
these figures. In egs/mini_grid after ``./run.sh``:

  python ../../bench/inference_precision.py --exp_dir exp/lipsound2_pretrained --set test_sd
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lipsound2.bin import infer, score, vocode
from lipsound2.fileio.ark import load_array
from lipsound2.fileio.table import read_table
from lipsound2.frontend.config import load_config
from lipsound2.metrics.scoring import read_speech_tsv, summarize_speech
from lipsound2.nets.precision import PRECISIONS


def relative_difference(feats_scp: Path, reference_scp: Path) -> float:
    hyp, ref = read_table(feats_scp), read_table(reference_scp)
    diffs = []
    for key, path in ref.items():
        a, b = load_array(hyp[key]), load_array(path)
        diffs.append(np.linalg.norm(a - b) / np.linalg.norm(b))
    return float(np.mean(diffs))


def run(args: argparse.Namespace, data: Path, out: Path, precision: str, seed: int) -> dict[str, float]:
    """Infer, vocode and score one set; the inference's seconds, RTF and mean scores."""
    start = time.perf_counter()
    infer.main(
        [
            "--train_config", str(args.exp_dir / "config.yaml"),
            "--frontend_config", str(args.frontend_config),
            "--model_file", str(args.exp_dir / args.model),
            "--data_path", str(data / "video.scp"),
            "--output_dir", str(out),
            "--precision", precision,
            "--seed", str(seed),
            "--batch_size", str(args.batch_size),
            "--num_threads", str(args.threads),
        ]
    )  # fmt: skip
    seconds = time.perf_counter() - start
    fps = load_config(args.frontend_config).video.fps
    video_seconds = sum(int(n) for n in read_table(data / "utt2num_vframes").values()) / fps
    wav_scp = str(out / "wav.scp")
    vocode.main(
        ["--feats_scp", str(out / "feats.scp"), "--outdir", str(out), "--wav_scp", wav_scp]
        + ["--frontend_config", str(args.frontend_config)]
    )
    ref_scp = str(data / "wav.scp")
    score.main(["--ref_wav_scp", ref_scp, "--hyp_wav_scp", wav_scp, "--out", str(out / "s.tsv")])
    return {
        "seconds": seconds,
        "rtf": seconds / video_seconds,
        **summarize_speech(read_speech_tsv(out / "s.tsv")),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp_dir", type=Path, required=True, help="training experiment (config.yaml, model)")
    p.add_argument("--model", default="valid.loss.best.pth")
    p.add_argument("--dumpdir", type=Path, default=Path("dump"))
    p.add_argument("--frontend_config", type=Path, default=Path("conf/frontend.yaml"))
    p.add_argument("--set", default="test_sd")
    p.add_argument("--precisions", default=",".join(PRECISIONS), help="the first is the reference")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    data = args.dumpdir / args.set
    precisions = args.precisions.split(",")
    # the rows, then the reference precision with another PreNet dropout seed: the spread
    # that sampling alone gives
    runs = [(precision, 0) for precision in precisions] + [(precisions[0], 1)]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        run(args, data, Path(tmp) / "warm-up", precisions[0], 0)  # imports and first-call costs
        reference = Path(tmp) / f"{precisions[0]}-0" / "feats.scp"
        for precision, seed in runs:
            out = Path(tmp) / f"{precision}-{seed}"
            rows[f"{precision}, seed {seed}"] = {
                **run(args, data, out, precision, seed),
                "mel_diff": relative_difference(out / "feats.scp", reference),
            }
    print(f"\n{args.exp_dir / args.model} on {data}, {args.threads} thread(s), batch {args.batch_size}:")
    print("| run | inference s (RTF) | mel difference from run 1 | ESTOI | STOI | PESQ NB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, r in rows.items():
        print(
            f"| {label} | {r['seconds']:.2f} ({r['rtf']:.4f}) | {r['mel_diff']:.4f} | {r['estoi']:.3f} "
            f"| {r['stoi']:.3f} | {r['pesq_nb']:.3f} |"
        )


if __name__ == "__main__":
    main()

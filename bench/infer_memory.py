"""Peak resident memory of ``lipsound2.bin.infer`` against the number of utterances.

Not a test: run by hand. Writes ``--utts`` generated gray 112 x 112 face tracks of
``--frames`` frames (uint8, one ark, with ``utt2num_vframes`` beside the ``video.scp`` as
stage 1 leaves it) and an untrained model of ``--train_config``, then runs the inference in a
child process per set size with ``--inference_config`` and reports the child's peak resident
memory (``ru_maxrss``) and wall time. ``--code`` imports ``lipsound2`` from another checkout,
e.g. an older commit unpacked with ``git archive``. From the repository root:

  python bench/infer_memory.py --utts 100 1000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import write_table
from lipsound2.nets.lipsound2 import LipSound2

ROOT = Path(__file__).resolve().parents[1]


def write_tracks(out: Path, utts: int, frames: int, seed: int = 0) -> Path:
    """``utts`` tracks of moving noise on a gray face-sized frame, and their ``utt2num_vframes``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    with ArkWriter(out / "video.ark", out / "video.scp") as writer:
        for i in range(utts):
            writer[f"utt{i:05d}"] = rng.integers(0, 256, (frames, 112, 112), dtype=np.uint8)
    write_table(out / "utt2num_vframes", {f"utt{i:05d}": str(frames) for i in range(utts)})
    return out / "video.scp"


def write_model(exp: Path, train_config: Path) -> None:
    with open(train_config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    torch.manual_seed(0)
    exp.mkdir(parents=True, exist_ok=True)
    torch.save(LipSound2(**conf["model_conf"]).state_dict(), exp / "model.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump({"model_conf": conf["model_conf"]}))


def peak_rss(cmd: list[str], code: Path) -> tuple[float, float]:
    """The child's peak resident memory in MiB and its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    # run in ``code``: ``python -m`` puts the working folder first on the import path
    child = subprocess.Popen(cmd, env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"inference failed:\n{stderr[-3000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--frames", type=int, default=75, help="frames per track (75: 3 s at 25 fps)")
    p.add_argument("--train_config", type=Path, default=ROOT / "egs/TEMPLATE/conf/train_cpu.yaml")
    p.add_argument("--inference_config", type=Path, default=ROOT / "egs/TEMPLATE/conf/inference.yaml")
    p.add_argument("--code", type=Path, default=ROOT, help="the checkout whose lipsound2 runs")
    p.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = p.parse_args()
    args.train_config, args.inference_config = args.train_config.resolve(), args.inference_config.resolve()
    args.code = args.code.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        write_model(work / "exp", args.train_config)
        for utts in args.utts:
            scp = write_tracks(work / f"data{utts}", utts, args.frames)
            exp = work / "exp"
            cmd = [sys.executable, "-m", "lipsound2.bin.infer",
                   "--inference_config", str(args.inference_config),
                   "--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
                   "--data_path", str(scp), "--output_dir", str(work / f"out{utts}")]  # fmt: skip
            mb, seconds = peak_rss(cmd, args.code)
            print(f"{utts} x {args.frames} frames: peak RSS {mb:.0f} MiB, {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()

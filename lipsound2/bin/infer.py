"""Video -> mel: free-running, batched LipSound2 decoding of a ``video.scp``.

Writes ``feats.ark``/``feats.scp`` (log-mel, float32 ``(frames, n_mels)``, the front end's
scale), ``utt2num_frames`` and the attention weights ``att_ws.ark``/``att_ws.scp``
(``(frames, encoder frames)``) to ``--output_dir``. An utterance that cannot be read is
logged and skipped; the outputs appear only when every utterance was tried.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lipsound2.allocator import reuse_large_allocations
from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.nets.precision import PRECISIONS, with_precision
from lipsound2.tasks.checkpoint import load_model
from lipsound2.tasks.face_track_type import FaceTrackReader
from lipsound2.tasks.preprocess import FaceTrackPreprocessor

DEFAULTS = {"stop_mode": None, "max_decode_steps": None, "batch_size": 8, "seed": 0, "precision": "fp32"}


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train_config", required=True, help="config.yaml of the training experiment")
    p.add_argument(
        "--frontend_config", default=None, help="front-end YAML of the features (default: its defaults)"
    )
    p.add_argument("--model_file", required=True, help="model file, e.g. exp/x/valid.loss.best.pth")
    p.add_argument("--data_path", required=True, help="video.scp (media files or ark entries)")
    p.add_argument("--key_file", default=None, help="decode only these utterances (first column)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--config", default=None, help="inference YAML: " + ", ".join(DEFAULTS))
    p.add_argument("--stop_mode", choices=["visual_period", "known_length"], default=None)
    p.add_argument("--max_decode_steps", type=int, default=None)
    p.add_argument("--batch_size", type=int, default=None)
    p.add_argument("--seed", type=int, default=None, help="seed of the PreNet's inference dropout")
    p.add_argument(
        "--precision", choices=PRECISIONS, default=None, help="Linear weights, see nets/precision.py"
    )
    p.add_argument("--num_threads", type=int, default=1)
    return p


def resolve_options(args: argparse.Namespace) -> dict:
    """Defaults < inference config < command line."""
    options = dict(DEFAULTS)
    if args.config:
        loaded = load_yaml(args.config)
        unknown = set(loaded) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"{args.config}: unknown keys {sorted(unknown)}")
        options.update(loaded)
    for key in DEFAULTS:
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return options


def pad_batch(videos: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(v) for v in videos])
    batch = torch.zeros((len(videos), int(lengths.max()), *videos[0].shape[1:]), dtype=torch.float32)
    for i, v in enumerate(videos):
        batch[i, : len(v)] = torch.from_numpy(v)
    return batch, lengths


def main(cmd: list[str] | None = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
    )
    torch.set_num_threads(args.num_threads)
    reuse_large_allocations()  # every batch allocates the encoder's activations anew
    options = resolve_options(args)
    model, train_args = load_model(args.train_config, args.model_file, args.frontend_config)
    fps = load_config(args.frontend_config).video.fps
    model = with_precision(model, options["precision"])
    preprocess = FaceTrackPreprocessor(
        train=False,
        channels=model.in_channels,
        blank_video=bool(getattr(train_args, "blank_video", False)),
        blank_value=float(getattr(train_args, "blank_value", 128.0)),
    )
    reader = FaceTrackReader(args.data_path)
    keys = list(reader) if args.key_file is None else list(read_table(args.key_file))
    videos, failed = {}, []
    for key in keys:
        try:
            videos[key] = preprocess(key, {"video": reader[key]})["video"]
        except Exception as exc:  # one bad utterance must not stop the set
            logging.error("%s", exc)
            failed.append(key)
    order = sorted(videos, key=lambda k: -len(videos[k]))
    out = Path(args.output_dir)
    torch.manual_seed(options["seed"])
    num_frames, video_seconds, start = {}, 0.0, time.perf_counter()
    bs = int(options["batch_size"])
    with (
        ArkWriter(out / "feats.ark", out / "feats.scp") as mel_w,
        ArkWriter(out / "att_ws.ark", out / "att_ws.scp") as att_w,
    ):
        for i in tqdm(range(0, len(order), bs), desc="infer", unit="batch", file=sys.stderr):
            batch_keys = order[i : i + bs]
            video, lengths = pad_batch([videos[k] for k in batch_keys])
            result = model.generate(video, lengths, options["stop_mode"], options["max_decode_steps"])
            for j, key in enumerate(batch_keys):
                n_out, n_in = int(result["mel_lengths"][j]), int(result["attention_lengths"][j])
                n_steps = int(result["attention_steps"][j])
                mel_w[key] = result["mel"][j, :n_out].numpy().astype(np.float32)
                att_w[key] = result["attention"][j, :n_steps, :n_in].numpy().astype(np.float32)
                num_frames[key] = str(n_out)
            video_seconds += float(lengths.sum()) / fps
    write_table(out / "utt2num_frames", num_frames)
    elapsed = time.perf_counter() - start
    logging.info(
        "decoded %d utterances in %.1f s (real-time factor %.4f at %g fps), %d failed",
        len(num_frames),
        elapsed,
        elapsed / max(video_seconds, 1e-9),
        fps,
        len(failed),
    )
    if failed:
        write_table(out / "failed", {k: "unreadable" for k in failed})
    return 0 if num_frames else 1


if __name__ == "__main__":
    sys.exit(main())

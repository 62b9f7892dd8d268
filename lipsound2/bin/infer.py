"""Video -> mel: free-running, batched LipSound2 decoding of a ``video.scp``.

Writes ``feats.ark``/``feats.scp`` (log-mel, float32 ``(frames, n_mels)``, the front end's
scale), ``utt2num_frames`` and the attention weights ``att_ws.ark``/``att_ws.scp``
(``(frames, encoder frames)``) to ``--output_dir``. An utterance that cannot be read or
decoded is logged and listed in ``failed``; the outputs appear only when every utterance
was tried.

Streams: the utterances are put in batches of similar length (longest first) from their
frame counts alone (``utt2num_vframes`` beside the ``video.scp`` where it exists, else each
track's header), then each batch is read, decoded and written before the next is read, so
memory depends on the batch, not on the set. Each utterance draws the PreNet's inference
dropout from its own generator, seeded from ``--seed`` and its key: its mel is the same
whatever batch or job it is decoded in.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lipsound2.allocator import reuse_large_allocations
from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.nets.lipsound2 import LipSound2
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
    p.add_argument(
        "--seed", type=int, default=None, help="seed of the PreNet's inference dropout (with each key)"
    )
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
    if int(options["batch_size"]) < 1:
        raise ValueError(f"batch_size must be at least 1, got {options['batch_size']}")
    return options


def utterance_generator(seed: int, key: str) -> torch.Generator:
    """The generator of one utterance's PreNet dropout: a function of ``seed`` and ``key`` only."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def track_lengths(reader: FaceTrackReader, keys: list[str], failed: dict[str, str]) -> dict[str, int]:
    """Frames per utterance, to batch by length without decoding any video: ``utt2num_vframes``
    beside the ``video.scp`` where it lists the key, else the track's header. Keys that are
    not in the ``video.scp`` or whose header cannot be read go to ``failed``."""
    table = Path(reader.path).with_name("utt2num_vframes")
    counts = read_table(table) if table.is_file() else {}
    lengths = {}
    for key in keys:
        if key not in reader:
            logging.error("%s: utterance %s is not in it", reader.path, key)
            failed[key] = "unreadable"
            continue
        value = counts.get(key, "")
        if value.strip().isdigit():
            lengths[key] = int(value)
            continue
        try:
            lengths[key] = reader.num_frames(key)
        except Exception as exc:  # one bad utterance must not stop the set
            logging.error("%s", exc)
            failed[key] = "unreadable"
    return lengths


def length_sorted_batches(lengths: dict[str, int], batch_size: int) -> Iterator[list[str]]:
    """Keys in batches of ``batch_size``, longest first (ties by key), so that padding is small
    and the first batch, the largest, sets the peak memory."""
    order = sorted(lengths, key=lambda k: (-lengths[k], k))
    for i in range(0, len(order), batch_size):
        yield order[i : i + batch_size]


def pad_batch(videos: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(v) for v in videos])
    batch = torch.zeros((len(videos), int(lengths.max()), *videos[0].shape[1:]), dtype=torch.float32)
    for i, v in enumerate(videos):
        batch[i, : len(v)] = torch.from_numpy(v)
    return batch, lengths


class StreamingDecoder:
    """Reads, decodes and writes one batch at a time; collects output lengths and failures."""

    def __init__(
        self,
        model: LipSound2,
        reader: FaceTrackReader,
        preprocess: FaceTrackPreprocessor,
        options: dict,
        mel_writer: ArkWriter,
        att_writer: ArkWriter,
    ) -> None:
        self.model, self.reader, self.preprocess, self.options = model, reader, preprocess, options
        self.mel_writer, self.att_writer = mel_writer, att_writer
        self.num_frames: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.video_frames = 0

    def read(self, keys: list[str]) -> dict[str, np.ndarray]:
        videos = {}
        for key in keys:
            try:
                videos[key] = self.preprocess(key, {"video": self.reader[key]})["video"]
            except Exception as exc:  # one bad utterance must not stop the set
                logging.error("%s", exc)
                self.failed[key] = "unreadable"
        return videos

    def decode(self, videos: dict[str, np.ndarray]) -> None:
        """Decode and write ``videos``; if the batch fails, each utterance is tried alone (its
        result does not depend on the batch), so only the one at fault is lost."""
        keys = list(videos)
        try:
            video, lengths = pad_batch([videos[k] for k in keys])
            generators = [utterance_generator(int(self.options["seed"]), k) for k in keys]
            result = self.model.generate(
                video, lengths, self.options["stop_mode"], self.options["max_decode_steps"], generators
            )
        except Exception:
            if len(keys) > 1:
                for key in keys:
                    self.decode({key: videos[key]})
                return
            key = keys[0]
            spec = self.reader.table[key]
            logging.exception("%s: utterance %s (%s): decoding failed", self.reader.path, key, spec)
            self.failed[key] = "decoding_failed"
            return
        del video
        for j, key in enumerate(keys):
            n_out, n_in = int(result["mel_lengths"][j]), int(result["attention_lengths"][j])
            n_steps = int(result["attention_steps"][j])
            self.mel_writer[key] = result["mel"][j, :n_out].numpy().astype(np.float32)
            self.att_writer[key] = result["attention"][j, :n_steps, :n_in].numpy().astype(np.float32)
            self.num_frames[key] = str(n_out)
        self.video_frames += int(lengths.sum())


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
    out = Path(args.output_dir)
    start = time.perf_counter()
    with (
        ArkWriter(out / "feats.ark", out / "feats.scp") as mel_w,
        ArkWriter(out / "att_ws.ark", out / "att_ws.scp") as att_w,
    ):
        decoder = StreamingDecoder(model, reader, preprocess, options, mel_w, att_w)
        lengths = track_lengths(reader, keys, decoder.failed)
        with tqdm(total=len(lengths), desc="infer", unit="utt", file=sys.stderr) as progress:
            for batch_keys in length_sorted_batches(lengths, int(options["batch_size"])):
                videos = decoder.read(batch_keys)
                if videos:
                    decoder.decode(videos)
                del videos
                progress.update(len(batch_keys))
    write_table(out / "utt2num_frames", decoder.num_frames)
    elapsed = time.perf_counter() - start
    video_seconds = decoder.video_frames / fps
    logging.info(
        "decoded %d utterances in %.1f s (real-time factor %.4f at %g fps), %d failed",
        len(decoder.num_frames),
        elapsed,
        elapsed / max(video_seconds, 1e-9),
        fps,
        len(decoder.failed),
    )
    if decoder.failed:
        write_table(out / "failed", decoder.failed)
    elif (out / "failed").exists():
        (out / "failed").unlink()  # from an earlier run of this job
    return 0 if decoder.num_frames else 1


if __name__ == "__main__":
    sys.exit(main())

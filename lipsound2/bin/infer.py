"""Video -> mel: free-running, batched LipSound2 decoding of a ``video.scp``.

Writes ``feats.ark``/``feats.scp`` (log-mel, float32 ``(frames, n_mels)``, the front end's
scale), ``utt2num_frames`` and the attention weights ``att_ws.ark``/``att_ws.scp``
(``(frames, encoder frames)``) to ``--output_dir``; a model with a unit head (trained with
speech units) also writes its predicted unit of every mel frame, ``units.ark``/``units.scp``
(int32 vectors, as stage 2 writes the reference units). An utterance that cannot be read or
decoded is logged and listed in ``failed``; the outputs appear only when every utterance
was tried.

Streams: the utterances are put in batches of similar length (longest first) from their
frame counts alone (``utt2num_vframes`` beside the ``video.scp`` where it exists, else each
track's header), then each batch is read, decoded and written before the next is read, so
memory depends on the batch, not on the set. Decoding is
:meth:`lipsound2.inference.Video2Speech.mel`, the Python API's own: each utterance draws the
PreNet's inference dropout from its own generator, seeded from ``--seed`` and its key, so its
mel is the same whatever batch or job it is decoded in, and the same as the API gives.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import read_table, write_table
from lipsound2.inference.batching import length_sorted_batches
from lipsound2.inference.options import INFERENCE_DEFAULTS, add_model_arguments, load_inference_config
from lipsound2.inference.video2speech import Video2Speech
from lipsound2.nets.precision import PRECISIONS
from lipsound2.runtime.malloc import reuse_large_allocations
from lipsound2.tasks.face_track_type import FaceTrackReader


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--data_path", required=True, help="video.scp (media files or ark entries)")
    p.add_argument("--key_file", default=None, help="decode only these utterances (first column)")
    p.add_argument("--output_dir", required=True)
    p.add_argument(
        "--inference_config", default=None, help="inference YAML: " + ", ".join(INFERENCE_DEFAULTS)
    )
    p.add_argument("--stop_mode", choices=["visual_period", "known_length"], default=None)
    p.add_argument("--max_decode_steps", type=int, default=None)
    p.add_argument("--batch_size", type=int, default=None)
    p.add_argument(
        "--seed", type=int, default=None, help="seed of the PreNet's inference dropout (with each key)"
    )
    p.add_argument(
        "--precision", choices=PRECISIONS, default=None, help="Linear weights, see nets/precision.py"
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    p.add_argument("--num_threads", type=int, default=1)
    return p


def resolve_options(args: argparse.Namespace) -> dict:
    """Defaults < inference config < command line (on a GPU, :class:`Video2Speech` decodes
    int8 weights in fp32)."""
    options = dict(INFERENCE_DEFAULTS)
    if args.inference_config:
        options.update(load_inference_config(args.inference_config))
    for key in INFERENCE_DEFAULTS:
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if int(options["batch_size"]) < 1:
        raise ValueError(f"batch_size must be at least 1, got {options['batch_size']}")
    return options


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


class StreamingDecoder:
    """Reads, decodes and writes one batch at a time; collects output lengths and failures."""

    def __init__(
        self,
        v2s: Video2Speech,
        reader: FaceTrackReader,
        mel_writer: ArkWriter,
        att_writer: ArkWriter,
        unit_writer: ArkWriter | None = None,
    ) -> None:
        self.v2s, self.reader = v2s, reader
        self.mel_writer, self.att_writer, self.unit_writer = mel_writer, att_writer, unit_writer
        self.num_frames: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.video_frames = 0

    def read(self, keys: list[str]) -> dict[str, np.ndarray]:
        videos = {}
        for key in keys:
            try:
                videos[key] = self.reader[key]
            except Exception as exc:  # one bad utterance must not stop the set
                logging.error("%s", exc)
                self.failed[key] = "unreadable"
        return videos

    def decode(self, videos: dict[str, np.ndarray]) -> None:
        """Decode and write ``videos``; an utterance that fails is logged and listed, the others
        are written (see :meth:`Video2Speech.mel`)."""
        failed: dict[str, Exception] = {}
        for key, result in self.v2s.mel(videos, failed).items():
            self.mel_writer[key] = result.mel
            self.att_writer[key] = result.attention
            if self.unit_writer is not None and result.units is not None:
                self.unit_writer[key] = result.units
            self.num_frames[key] = str(len(result.mel))
            self.video_frames += len(videos[key])
        for key, exc in failed.items():
            spec = self.reader.table[key]
            logging.error("%s: utterance %s (%s): decoding failed", self.reader.path, key, spec, exc_info=exc)
            self.failed[key] = "decoding_failed"


def main(cmd: list[str] | None = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
    )
    reuse_large_allocations()  # every batch allocates the encoder's activations anew
    options = resolve_options(args)
    v2s = Video2Speech(
        args.train_config,
        args.model_file,
        args.frontend_config,
        vocoder_type=None,
        device=args.device,
        num_threads=args.num_threads,
        **options,
    )
    reader = FaceTrackReader(args.data_path)
    keys = list(reader) if args.key_file is None else list(read_table(args.key_file))
    out = Path(args.output_dir)
    start = time.perf_counter()
    with (
        ArkWriter(out / "feats.ark", out / "feats.scp") as mel_w,
        ArkWriter(out / "att_ws.ark", out / "att_ws.scp") as att_w,
        contextlib.ExitStack() as stack,
    ):
        unit_w = None
        if v2s.model.unit_head is not None:
            unit_w = stack.enter_context(ArkWriter(out / "units.ark", out / "units.scp"))
        decoder = StreamingDecoder(v2s, reader, mel_w, att_w, unit_w)
        lengths = track_lengths(reader, keys, decoder.failed)
        with tqdm(total=len(lengths), desc="infer", unit="utt", file=sys.stderr) as progress:
            for batch_keys in length_sorted_batches(lengths, int(options["batch_size"])):
                videos = decoder.read(batch_keys)
                if videos:
                    decoder.decode(videos)
                del videos
                progress.update(len(batch_keys))
    write_table(out / "utt2num_frames", decoder.num_frames)
    if unit_w is None:
        for name in ("units.scp", "units.ark"):  # from an earlier run with a unit head
            (out / name).unlink(missing_ok=True)
    elapsed = time.perf_counter() - start
    video_seconds = decoder.video_frames / v2s.fps
    logging.info(
        "decoded %d utterances in %.1f s (real-time factor %.4f at %g fps), %d failed",
        len(decoder.num_frames),
        elapsed,
        elapsed / max(video_seconds, 1e-9),
        v2s.fps,
        len(decoder.failed),
    )
    if decoder.failed:
        write_table(out / "failed", decoder.failed)
    elif (out / "failed").exists():
        (out / "failed").unlink()  # from an earlier run of this job
    return 0 if decoder.num_frames else 1


if __name__ == "__main__":
    sys.exit(main())

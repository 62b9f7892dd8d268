"""Video + ground-truth mel -> the model's teacher-forced ("ground-truth-aligned", GTA) mel.

Runs a trained LipSound2 model over a dump set the way training does: the decoder is fed the
ground-truth mel (``feats.scp``) of the previous step instead of its own prediction, so the
PostNet's output has the ground truth's frame count and stays aligned with the real audio,
but keeps the model's blur. Those (GTA mel, real audio) pairs are what a vocoder is
fine-tuned on to turn predicted mel into real speech (Tacotron 2, HiFi-GAN's fine-tuning;
``train.gta_steps`` of ``lipsound2.bin.train_vocoder``).

Writes ``feats.ark``/``feats.scp`` (float32 ``(frames, n_mels)``, de-normalised to the front
end's log-mel scale as ``lipsound2.bin.infer``'s output is), ``utt2num_frames`` and the model's
``frontend.yaml`` to ``--output_dir``. The archive appears only when every utterance was tried
(an interrupted job leaves none). An utterance whose track or mel cannot be read or decoded is
named in the log and listed in ``failed``; the others are written.

Jobs: ``--key_file`` (the stage scripts' ``keys.JOB.scp`` split) and/or ``--job_id JOB
--num_jobs N`` (every N-th of the keys) choose this job's utterances. As in training, the
PreNet's dropout stays on (the model's ``prenet_always_dropout``); each batch draws it from a
generator seeded from ``--seed`` and the batch's first key, so a rerun of the same job writes
the same mel.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lipsound2.fileio.ark import ArkWriter, array_length, load_array
from lipsound2.fileio.table import read_table, write_table
from lipsound2.frontend.config import write_settings
from lipsound2.inference.batching import length_sorted_batches, utterance_generator
from lipsound2.inference.options import add_model_arguments
from lipsound2.inference.video2speech import Video2Speech
from lipsound2.nets.encoder import sequence_mask
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.recipe.jobs import add_job_arguments, job_share
from lipsound2.tasks.face_track_type import FaceTrackReader


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(p)
    p.add_argument("--stats_file", default=None, help="mel statistics, in place of the config's path")
    p.add_argument("--data_path", required=True, help="video.scp of the set (face tracks)")
    p.add_argument("--feats_scp", required=True, help="the set's ground-truth mel (stage 2's feats.scp)")
    p.add_argument("--key_file", default=None, help="only these utterances (first column)")
    add_job_arguments(p)
    p.add_argument("--output_dir", required=True, type=Path)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="seed of the PreNet's dropout (with each batch)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    p.add_argument("--num_threads", type=int, default=1)
    return p


@torch.no_grad()
def teacher_forced_mel(
    model: LipSound2,
    video: torch.Tensor,
    video_lengths: torch.Tensor,
    feats: torch.Tensor,
    feats_lengths: torch.Tensor,
) -> torch.Tensor:
    """The PostNet's mel ``(B, L, n_mels)`` of ``video`` (pixel values ``(B, T, H, W[, C])``)
    decoded teacher-forced on ``feats`` (front-end log-mel ``(B, L, n_mels)``), on the front
    end's scale, zero beyond each ``feats_lengths``; what training's forward pass predicts
    (without scheduled sampling), de-normalised as :meth:`LipSound2.generate` does."""
    if feats.size(-1) != model.n_mels:
        model.check_features(feats.size(-1), model.mel_per_video_frame, "the ground-truth mel")
    feats = feats[:, : int(feats_lengths.max())].clone()  # ESPnet's GlobalMVN works in place
    if model.normalize is not None:
        feats, _ = model.normalize(feats, feats_lengths)
    memory, in_lengths = model.encode(video, video_lengths)
    pad_mask = ~sequence_mask(in_lengths, memory.size(1))
    frames, _ = model.decoder(memory, pad_mask, feats, 0.0)
    out_mask = sequence_mask(feats_lengths, feats.size(1))
    frames = frames * out_mask.unsqueeze(2)
    mel = (frames + model.postnet(frames, out_mask)) * out_mask.unsqueeze(2)
    if model.normalize is not None:
        mel, _ = model.normalize.inverse(mel, feats_lengths)
    return mel * out_mask.unsqueeze(2)


class GTADecoder:
    """Reads, decodes and writes one batch at a time; collects frame counts and failures."""

    def __init__(
        self,
        v2s: Video2Speech,
        reader: FaceTrackReader,
        feats: Mapping[str, str],
        writer: ArkWriter,
        seed: int,
    ) -> None:
        self.v2s, self.reader, self.feats, self.writer, self.seed = v2s, reader, feats, writer, seed
        self.num_frames: dict[str, str] = {}
        self.failed: dict[str, str] = {}

    def run(self, keys: list[str]) -> None:
        """Decode and write ``keys`` as one batch; if it fails, each alone, so that only the
        utterance at fault is lost."""
        inputs = {}
        for key in keys:
            try:
                inputs[key] = self._read(key)
            except Exception as exc:  # one bad utterance must not stop the set
                self._fail(key, "unreadable", exc)
        if not inputs:
            return
        try:
            mels = self._decode(inputs)
        except Exception as exc:
            if len(inputs) == 1:
                self._fail(next(iter(inputs)), "decoding_failed", exc)
                return
            mels = None
        if mels is None:
            for key in inputs:
                self.run([key])
            return
        for key, mel in mels.items():
            self.writer[key] = mel
            self.num_frames[key] = str(len(mel))

    def _read(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The model's input video of ``key`` and its ground-truth mel."""
        video = self.v2s._prepare(key, self.reader[key])
        mel = np.array(load_array(self.feats[key]), dtype=np.float32)
        if mel.ndim != 2 or len(mel) == 0:
            raise ValueError(f"ground-truth mel of {key} is {mel.shape}, not (frames, n_mels)")
        return video, mel

    def _decode(self, inputs: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
        keys = list(inputs)
        model, device = self.v2s.model, self.v2s.device
        v_len = torch.tensor([len(inputs[key][0]) for key in keys])
        m_len = torch.tensor([len(inputs[key][1]) for key in keys])
        side, channels = model.image_size, model.in_channels
        video = torch.zeros((len(keys), int(v_len.max()), side, side, channels))
        n_mels = inputs[keys[0]][1].shape[1]
        feats = torch.zeros((len(keys), int(m_len.max()), n_mels))
        for i, key in enumerate(keys):
            video[i, : int(v_len[i])] = torch.from_numpy(inputs[key][0])
            feats[i, : int(m_len[i])] = torch.from_numpy(inputs[key][1])
        torch.manual_seed(int(utterance_generator(self.seed, keys[0]).initial_seed()))
        mel = teacher_forced_mel(
            model, video.to(device), v_len.to(device), feats.to(device), m_len.to(device)
        )
        return {
            key: np.array(mel[i, : int(m_len[i])].float().cpu(), dtype=np.float32)
            for i, key in enumerate(keys)
        }

    def _fail(self, key: str, reason: str, exc: Exception) -> None:
        logging.error("utterance %s (%s, track %s): %s", key, reason, self.reader.table.get(key), exc)
        self.failed[key] = reason


def mel_lengths(feats: Mapping[str, str], keys: list[str], failed: dict[str, str]) -> dict[str, int]:
    """Ground-truth mel frames of ``keys``, from the archive's headers (to batch by length);
    a key without a readable entry goes to ``failed``."""
    lengths = {}
    for key in keys:
        if key not in feats:
            logging.error("utterance %s is not in the feats.scp", key)
            failed[key] = "unreadable"
            continue
        try:
            lengths[key] = array_length(feats[key])
        except Exception as exc:  # one bad utterance must not stop the set
            logging.error("utterance %s: no readable ground-truth mel: %s", key, exc)
            failed[key] = "unreadable"
    return lengths


def main(cmd: list[str] | None = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
    )
    if args.batch_size < 1:
        raise SystemExit(f"--batch_size must be at least 1, got {args.batch_size}")
    v2s = Video2Speech(
        args.train_config,
        args.model_file,
        args.frontend_config,
        vocoder_type=None,
        stats_file=args.stats_file,
        device=args.device,
        precision="fp32",
        num_threads=args.num_threads,
    )
    reader = FaceTrackReader(args.data_path)
    feats = read_table(args.feats_scp)
    keys = list(reader) if args.key_file is None else list(read_table(args.key_file))
    keys = job_share(keys, args)
    out: Path = args.output_dir
    with ArkWriter(out / "feats.ark", out / "feats.scp") as writer:
        decoder = GTADecoder(v2s, reader, feats, writer, args.seed)
        lengths = mel_lengths(feats, keys, decoder.failed)
        with tqdm(total=len(lengths), desc="gta_mel", unit="utt", file=sys.stderr) as progress:
            for batch in length_sorted_batches(lengths, args.batch_size):
                decoder.run(batch)
                progress.update(len(batch))
    write_table(out / "utt2num_frames", decoder.num_frames)
    write_settings(v2s.frontend, out / "frontend.yaml")
    logging.info(
        "wrote the GTA mel of %d utterances, %d failed", len(decoder.num_frames), len(decoder.failed)
    )
    if decoder.failed:
        write_table(out / "failed", decoder.failed)
    else:
        (out / "failed").unlink(missing_ok=True)  # from an earlier run of this job
    return 0 if decoder.num_frames else 1


if __name__ == "__main__":
    sys.exit(main())

"""Does an audio pre-trained model copy its input? Its teacher-forced reconstruction of a set,
measured three ways (stage 3 writes ``reliance.json`` beside the model; docs/audio_pretraining.md).

For every utterance of ``--feats_scp``, in eval mode (no masks, no noise), the decoder MSE in
the model's (normalised) mel units: as trained (``full``); with the decoder's history, the
previous frames it is fed, replaced by zeros (``no_history``); with the encoder's memory
replaced by zeros (``no_memory``); ``free_running``, the PostNet output of free-running
decoding (the model's own frames fed back, known length); and ``frame_variance``, the MSE of
predicting each band's mean. A model that copied its input through the memory would
reconstruct almost perfectly, free-running too (``full``, ``free_running`` near 0) and lose
nothing without its history (``history_gain`` near 1); one that ignored the audio would lose
nothing without the memory (``memory_gain`` near 1).

Example::

    python -m lipsound2.bin.audio_reliance --train_config exp/audio_train_audio/config.yaml \\
        --model_file exp/audio_train_audio/valid.loss.best.pth \\
        --feats_scp dump/librispeech_dev_clean/feats.scp --out reliance.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table
from lipsound2.nets.audio_pretrain import AudioPretrainModel
from lipsound2.tasks.checkpoint import load_model

log = logging.getLogger("audio_reliance")
MEASURES = ("full", "no_history", "no_memory", "free_running", "frame_variance")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train_config", type=Path, required=True, help="the audio experiment's config.yaml")
    parser.add_argument("--model_file", type=Path, required=True, help="its model file")
    parser.add_argument(
        "--frontend_config",
        type=Path,
        default=None,
        help="front-end YAML of the features (default: the experiment's frontend.yaml, else defaults)",
    )
    parser.add_argument("--feats_scp", type=Path, required=True, help="the mel to reconstruct")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="seed of the PreNet's inference dropout")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    return parser


def measure(model: AudioPretrainModel, feats_scp: Path, batch_size: int = 8) -> dict[str, float]:
    """The frame-weighted means of :meth:`AudioPretrainModel.reliance` over ``feats_scp``,
    with ``history_gain`` (no_history / full) and ``memory_gain`` (no_memory / full)."""
    table = read_table(feats_scp)
    if not table:
        raise ValueError(f"{feats_scp}: no utterances")
    mels = {}
    for utt, spec in table.items():
        try:
            mels[utt] = torch.from_numpy(load_array(spec)).float()
        except Exception as exc:
            raise RuntimeError(f"{feats_scp}: cannot read utterance {utt} ({spec}): {exc}") from exc
    keys = sorted(mels, key=lambda k: len(mels[k]), reverse=True)
    sums, frames = dict.fromkeys(MEASURES, 0.0), 0
    for start in range(0, len(keys), batch_size):
        batch = [mels[k] for k in keys[start : start + batch_size]]
        lengths = torch.tensor([len(m) for m in batch])
        padded = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True)
        result = model.reliance(padded, lengths)
        n = int(lengths.sum())
        for name in MEASURES:
            sums[name] += result[name] * n
        frames += n
    out = {name: sums[name] / frames for name in MEASURES}
    out["history_gain"] = out["no_history"] / out["full"]
    out["memory_gain"] = out["no_memory"] / out["full"]
    out["utterances"], out["frames"] = len(keys), frames
    return out


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s audio_reliance: %(message)s")
    model, _ = load_model(args.train_config, args.model_file, args.frontend_config)
    if not isinstance(model, AudioPretrainModel):
        log.error("%s is not an audio pre-trained model", args.train_config)
        return 1
    torch.manual_seed(args.seed)
    result = measure(model, args.feats_scp, args.batch_size)
    result["bottleneck"] = model.encoder.bottleneck
    with atomic_open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    log.info("%s", json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stage 2, second step: discrete speech units, one per mel frame, for each data dir given.

Frame features of a content encoder (``--unit_type``: logmel, mfcc, hubert, wav2vec2, whisper; see
``lipsound2/units/encoders.py``) are clustered by k-means: the model ``--kmeans`` is loaded
when it exists, otherwise fitted on at most ``--max_fit_frames`` frames of ``--fit_dir``'s
utterances (seeded) and saved there. Every data dir (stage 2's ``utt2num_frames`` and
``feats.scp`` or ``wav.scp``) then gets:

- ``data/units.ark`` + ``units.scp``: int32 Kaldi vectors, one unit per mel frame, so each
  length equals ``utt2num_frames``; an encoder at another rate (HuBERT, Whisper: 50/s) is put on the
  mel's frames (62.5/s for the paper's mel) by nearest frame;
- ``units.yaml``: unit type, k, the rate, the encoder's own rate, the k-means model;
- ``units_rejects``: utterances whose input could not be read or did not match, with why.

Exits with status 1 when a dir's rejected share passes ``--max_reject_share``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import yaml

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table, write_table
from lipsound2.frontend.config import load_config
from lipsound2.frontend.mel import MelConfig
from lipsound2.units import kmeans
from lipsound2.units.encoders import (
    UNIT_TYPES,
    ContentEncoder,
    EncoderError,
    Sources,
    align_to_mel,
    make_encoder,
)

log = logging.getLogger("extract_units")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--unit_type", choices=UNIT_TYPES, required=True, help="content encoder")
    parser.add_argument("--frontend_config", type=Path, help="front-end YAML (its mel section)")
    parser.add_argument("--kmeans", type=Path, required=True, help="k-means model (.npz): loaded, or fitted")
    parser.add_argument("--fit_dir", type=Path, help="data dir whose frames fit the k-means model")
    parser.add_argument("--k", type=int, default=200, help="clusters (units)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the frame sample and of k-means")
    parser.add_argument(
        "--max_fit_frames", type=int, default=100000, help="frames the k-means fit uses at most"
    )
    parser.add_argument(
        "--encoder_file",
        type=Path,
        help="hubert/wav2vec2: state dict checkpoint; whisper: a CTranslate2 Whisper dir (default: tiny.en)",
    )
    parser.add_argument(
        "--encoder_config", type=Path, help="hubert/wav2vec2: YAML of torchaudio wav2vec2_model arguments"
    )
    parser.add_argument(
        "--layer",
        type=int,
        default=None,
        help="hubert/wav2vec2: transformer layer, 1-based (default 6); whisper: none (only the last exists)",
    )
    parser.add_argument("--device", default="cpu", help="device of hubert/wav2vec2/whisper: cpu, cuda[:N]")
    parser.add_argument("--max_reject_share", type=float, default=0.1)
    parser.add_argument("data_dirs", nargs="+", type=Path, help="data dirs to write units into")
    return parser


def _sources(data_dir: Path) -> dict[str, Sources]:
    """Each utterance of ``utt2num_frames`` with its ``wav.scp`` / ``feats.scp`` values."""
    wavs = read_table(data_dir / "wav.scp") if (data_dir / "wav.scp").is_file() else {}
    feats = read_table(data_dir / "feats.scp") if (data_dir / "feats.scp").is_file() else {}
    return {utt: Sources(wavs.get(utt), feats.get(utt)) for utt in read_table(data_dir / "utt2num_frames")}


def _fit_model(args: argparse.Namespace, encoder: ContentEncoder, info: dict) -> kmeans.UnitModel:
    if args.fit_dir is None:
        raise SystemExit(f"{args.kmeans} does not exist and no --fit_dir to fit it on")
    sources = _sources(args.fit_dir)
    order = np.random.default_rng(args.seed).permutation(sorted(sources))
    arrays, total = [], 0
    for utt in order:
        try:
            feats = encoder.features(sources[utt])
        except (ValueError, OSError, RuntimeError) as exc:
            log.warning("%s: left out of the k-means sample: %s (%s)", utt, exc, sources[utt])
            continue
        arrays.append(feats)
        total += len(feats)
        if total >= args.max_fit_frames:
            break
    if not arrays:
        raise SystemExit(f"no readable utterance in {args.fit_dir} to fit k-means on")
    frames = kmeans.sample_frames(arrays, args.max_fit_frames, args.seed)
    log.info(
        "fitting k-means, k=%d, on %d frames of %d utterances of %s",
        args.k,
        len(frames),
        len(arrays),
        args.fit_dir,
    )
    try:
        model = kmeans.fit(frames, args.k, args.seed, {**info, "fit_dir": str(args.fit_dir)})
    except ValueError as exc:
        raise SystemExit(f"{args.fit_dir}: {exc}") from exc
    model.save(args.kmeans)
    log.info("k-means model: %s", args.kmeans)
    return model


def load_or_fit(args: argparse.Namespace, encoder: ContentEncoder) -> kmeans.UnitModel:
    """The k-means model of ``--kmeans``, fitted first when the file does not exist; a model of
    another unit type or layer is refused."""
    info = {"unit_type": args.unit_type, **encoder.describe()}
    if not args.kmeans.is_file():
        return _fit_model(args, encoder, info)
    model = kmeans.UnitModel.load(args.kmeans)
    for key in ("unit_type", "layer"):
        if model.info.get(key) != info.get(key):
            raise SystemExit(
                f"{args.kmeans} was fitted for {key} {model.info.get(key)}, not {info.get(key)}; "
                "remove it to refit"
            )
    return model


def write_units(
    data_dir: Path, encoder: ContentEncoder, model: kmeans.UnitModel, mel: MelConfig, about: dict
) -> tuple[int, int]:
    """Units of every utterance of ``data_dir``; returns (done, rejected)."""
    sources = _sources(data_dir)
    num_frames = {k: int(v) for k, v in read_table(data_dir / "utt2num_frames").items()}
    rejects: dict[str, str] = {}
    with ArkWriter(data_dir / "data" / "units.ark", data_dir / "units.scp") as writer:
        for utt, src in sources.items():
            try:
                units = model.assign(encoder.features(src))
                units = align_to_mel(units, encoder, num_frames[utt], mel)
            except (ValueError, OSError, RuntimeError) as exc:
                where = getattr(src, encoder.reads)
                rejects[utt] = str(exc) if where and where in str(exc) else f"{exc} ({where})"
                log.warning("%s: rejected: %s", utt, rejects[utt])
                continue
            writer[utt] = units
    write_table(data_dir / "units_rejects", rejects)
    done = len(sources) - len(rejects)
    with atomic_open(data_dir / "units.yaml") as f:
        yaml.safe_dump({**about, "utterances": done, "rejected": len(rejects)}, f, sort_keys=False)
    return done, len(rejects)


def run(args: argparse.Namespace) -> int:
    mel = load_config(args.frontend_config).mel if args.frontend_config else MelConfig()
    try:
        encoder = make_encoder(
            args.unit_type, mel, args.encoder_file, args.layer, args.encoder_config, args.device
        )
    except EncoderError as exc:
        raise SystemExit(str(exc)) from exc
    model = load_or_fit(args, encoder)
    about = {
        "unit_type": args.unit_type,
        "k": model.k,
        "frames_per_second": mel.frames_per_second,
        "aligned_to": "mel frames of feats.scp: one unit per frame, length = utt2num_frames",
        "encoder": {
            **encoder.describe(),
            "resampled": "nearest frame" if abs(encoder.period * mel.frames_per_second - 1) > 1e-9 else "no",
            "file": str(args.encoder_file.absolute()) if args.encoder_file else None,
        },
        "kmeans": str(args.kmeans.absolute()),
    }
    status = 0
    for data_dir in args.data_dirs:
        done, rejected = write_units(data_dir, encoder, model, mel, about)
        total = done + rejected
        log.info("%s: units of %d utterances, %d rejected", data_dir, done, rejected)
        if total and rejected / total > args.max_reject_share:
            log.error(
                "%s: rejected share %.1f%% is above --max_reject_share %g; see %s",
                data_dir,
                100 * rejected / total,
                args.max_reject_share,
                data_dir / "units_rejects",
            )
            status = 1
    return status


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(run(get_parser().parse_args(argv)))


if __name__ == "__main__":
    main()

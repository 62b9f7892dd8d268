"""Vocode log-mel features (feats.scp) into wav files and a wav.scp.

The mel settings and the output rate are those of the features: ``--frontend_config``, or
without it the ``frontend.yaml`` beside ``--feats_scp`` (the decode or dump dir the mel came
from; the defaults when there is none). A ``--frontend_config`` whose mel differs from that
file is refused before anything is vocoded. Run one job of many through the job runner:
``--job_id JOB --num_jobs N`` takes every N-th utterance. Writes ``<outdir>/wav/<utt>.wav``
and the job's ``--wav_scp`` table; an utterance that fails is named in the log and in
``<wav_scp>.failed``, the others go on. ``--vocoder_type hifigan_units`` also reads each
utterance's units from ``--units_scp`` (one per mel frame); an utterance without units, or
with as many units as it has not mel frames, fails by name. A units vocoder with a speaker
input vocodes each utterance with its speaker's (``--utt2spk``) mean embedding from the
vocoder's training set; a speaker it never saw, or an utterance without one, gets the
training set's global mean (a warning says so).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tqdm import tqdm

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import write_wav
from lipsound2.frontend.config import VOCODER_SECTIONS, SettingsMismatchError, settings_beside
from lipsound2.frontend.config import load_config as load_frontend_config
from lipsound2.recipe.jobs import add_job_arguments, job_share
from lipsound2.vocoders.factory import add_vocoder_arguments, build_vocoder, load_config
from lipsound2.vocoders.types import UNIT_TYPES


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feats_scp", required=True, help="log-mel feats.scp (frames, n_mels)")
    p.add_argument(
        "--frontend_config",
        default=None,
        help="front-end YAML of the features (default: the frontend.yaml beside --feats_scp, else defaults)",
    )
    p.add_argument("--units_scp", default=None, help="hifigan_units: the units of feats.scp's utterances")
    p.add_argument("--utt2spk", default=None, help="speakers of feats.scp's utterances (a speaker input)")
    p.add_argument("--outdir", required=True, help="wav files go to OUTDIR/wav/")
    p.add_argument("--wav_scp", required=True, help="output wav.scp of this job")
    add_vocoder_arguments(p)
    add_job_arguments(p)
    return p


def feats_frontend(frontend_config: str | None, feats_scp: str) -> str | os.PathLike | None:
    """The front-end file of the mel in ``feats_scp`` (see the module's docstring); a
    disagreeing ``frontend_config`` exits with the message naming both files and the keys."""
    try:
        return settings_beside(
            frontend_config,
            Path(feats_scp).parent,
            VOCODER_SECTIONS,
            "the settings the mel features were made with",
            "vocode with that file, or with no front-end file (it is the default)",
        )
    except SettingsMismatchError as exc:
        raise SystemExit(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.vocoder_type in UNIT_TYPES and not args.units_scp:
        raise SystemExit(f"--vocoder_type {args.vocoder_type} needs --units_scp")
    mel = load_frontend_config(feats_frontend(args.frontend_config, args.feats_scp)).mel
    feats = read_table(args.feats_scp)
    units = read_table(args.units_scp) if args.vocoder_type in UNIT_TYPES else None
    keys = job_share(feats, args)
    vocoder = build_vocoder(args.vocoder_type, load_config(args.vocoder_config), mel, args.vocoder_file)
    speakers = getattr(vocoder, "speakers", None)  # the training speakers of a speaker input
    utt2spk = read_table(args.utt2spk) if speakers is not None and args.utt2spk else {}
    if speakers is not None and not utt2spk:
        logging.warning("no --utt2spk: every utterance is vocoded with the global mean speaker embedding")
    wav_dir = Path(args.outdir) / "wav"
    written: dict[str, str] = {}
    failed: list[str] = []
    for key in tqdm(keys, desc=f"vocode {args.job_id}/{args.num_jobs}", mininterval=10):
        try:
            if units is None:
                wav = vocoder(load_array(feats[key]))
            elif key not in units:
                raise ValueError(f"no units in {args.units_scp}")
            elif speakers is None:
                wav = vocoder(load_array(feats[key]), load_array(units[key]))
            else:
                if utt2spk and key not in utt2spk:
                    logging.warning(
                        "%s: not in %s: using the global mean speaker embedding", key, args.utt2spk
                    )
                wav = vocoder(load_array(feats[key]), load_array(units[key]), utt2spk.get(key))
            path = wav_dir / f"{key}.wav"
            write_wav(path, wav, mel.sample_rate)
            written[key] = str(path)
        except Exception as exc:  # one bad utterance must not stop the set
            logging.error("%s: %s: %s", key, feats[key], exc)
            failed.append(key)
    write_table(args.wav_scp, written)
    with atomic_open(f"{args.wav_scp}.failed", "w", encoding="utf-8") as f:
        f.writelines(f"{key}\n" for key in failed)
    logging.info("vocoded %d utterances, %d failed", len(written), len(failed))
    return 1 if keys and not written else 0


if __name__ == "__main__":
    sys.exit(main())

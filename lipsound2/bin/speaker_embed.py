"""Speaker embeddings (Resemblyzer's GE2E, 256-d) of every utterance of wav.scp tables.

Writes ``OUT_DIR/embeddings.npz`` (``keys``, ``embeddings``) and ``OUT_DIR/failed``, the
utterances that gave none (unreadable audio, no voiced speech), each also named in the log;
the others go on. Stage 6 runs it on the training set for a vocoder config with a
``speaker`` section (lipsound2/vocoders/speaker.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table
from lipsound2.frontend.decode import load_audio
from lipsound2.vocoders.speaker import SAMPLE_RATE, SpeakerEncoder, save_embeddings


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True, action="append", help="audio table (repeatable)")
    p.add_argument("--out_dir", required=True, type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    wavs = {key: spec for scp in args.wav_scp for key, spec in read_table(scp).items()}
    encoder = SpeakerEncoder()
    embeddings, failed = {}, []
    for key, spec in tqdm(wavs.items(), desc="speaker embeddings", mininterval=10):
        try:
            embeddings[key] = encoder(load_audio(spec, SAMPLE_RATE))
        except Exception as exc:  # one bad utterance must not stop the set
            logging.error("%s: %s: %s", key, spec, exc)
            failed.append(key)
    save_embeddings(args.out_dir / "embeddings.npz", embeddings)
    with atomic_open(args.out_dir / "failed", "w", encoding="utf-8") as f:
        f.writelines(f"{key}\n" for key in failed)
    logging.info("%d speaker embeddings, %d utterances failed", len(embeddings), len(failed))
    return 1 if wavs and not embeddings else 0


if __name__ == "__main__":
    sys.exit(main())

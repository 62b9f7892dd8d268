"""Transcribe a wav.scp with one independent judge ASR (``--judge``: whisper or pocketsphinx).

One job of many: ``--job_id JOB --num_jobs N`` takes every N-th utterance and writes its
hypotheses to ``--out`` (a Kaldi text table). A file that cannot be read is logged by
name and left out; the scorer counts it as an empty hypothesis.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tqdm import tqdm

from lipsound2.asr.judge import JUDGES, SAMPLE_RATE, build_judge
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav
from lipsound2.recipe.jobs import add_job_arguments, job_share


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True)
    p.add_argument("--out", required=True, help="hypothesis text table")
    p.add_argument("--judge", choices=list(JUDGES), default="whisper")
    p.add_argument(
        "--model_dir", default=None, help="whisper only: a CTranslate2 Whisper dir (default: tiny.en)"
    )
    p.add_argument("--language", default="en")
    add_job_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    wavs = read_table(args.wav_scp)
    keys = job_share(wavs, args)
    judge = build_judge(args.judge, args.model_dir or None)
    hyps: dict[str, str] = {}
    for key in tqdm(keys, desc=f"judge {args.judge} {args.job_id}/{args.num_jobs}", mininterval=10):
        try:
            hyps[key] = judge(read_wav(wavs[key], SAMPLE_RATE), args.language)
        except Exception as exc:  # one unreadable file must not stop the set
            logging.error("%s: %s: %s", key, wavs[key], exc)
    write_table(args.out, hyps)
    return 0


if __name__ == "__main__":
    sys.exit(main())

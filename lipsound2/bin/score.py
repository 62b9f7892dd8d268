"""Score generated speech against the real audio: PESQ (NB and WB), STOI, ESTOI per utterance.

One job of many (``--job_id JOB --num_jobs N``); writes a per-utterance TSV. Utterances
that fail are named in the log; the rest are scored.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lipsound2.bin.job import add_job_arguments, job_share
from lipsound2.fileio.table import read_table
from lipsound2.metrics.scoring import score_speech, write_speech_tsv


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref_wav_scp", required=True, help="real 16 kHz audio")
    p.add_argument("--hyp_wav_scp", required=True, help="generated 16 kHz audio")
    p.add_argument("--out", required=True, help="per-utterance TSV of this job")
    add_job_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    keys = job_share(read_table(args.hyp_wav_scp), args)
    result = score_speech(args.ref_wav_scp, args.hyp_wav_scp, keys)
    for key, err in result["errors"].items():
        logging.error("%s: %s", key, err)
    write_speech_tsv(args.out, result["rows"])
    logging.info("scored %d utterances, %d failed", len(result["rows"]), len(result["errors"]))
    return 1 if keys and not result["rows"] else 0


if __name__ == "__main__":
    sys.exit(main())

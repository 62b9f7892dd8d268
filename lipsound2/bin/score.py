"""Score generated speech against the real audio: PESQ (NB and WB), STOI, ESTOI per utterance.

One job of many (``--job_id JOB --num_jobs N``) over the test set's utterances (the keys of
``--ref_wav_scp``); writes a per-utterance TSV with durations. An utterance that has no
generated audio or cannot be scored gets a failed row naming why (and a log line), so the
tables count it; the rest are scored. A failed utterance does not fail the job: the tables
show scored / expected utterances.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lipsound2.fileio.table import read_table
from lipsound2.metrics.scoring import score_speech, write_speech_tsv
from lipsound2.recipe.jobs import add_job_arguments, job_share


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref_wav_scp", required=True, help="real 16 kHz audio: the utterances to score")
    p.add_argument("--hyp_wav_scp", required=True, help="generated 16 kHz audio")
    p.add_argument("--out", required=True, help="per-utterance TSV of this job")
    add_job_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    keys = job_share(read_table(args.ref_wav_scp), args)
    rows = score_speech(args.ref_wav_scp, args.hyp_wav_scp, keys)
    failed = {key: row.error for key, row in rows.items() if row.error}
    for key, err in failed.items():
        logging.error("%s: %s", key, err)
    write_speech_tsv(args.out, rows)
    logging.info("scored %d utterances, %d failed", len(rows) - len(failed), len(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

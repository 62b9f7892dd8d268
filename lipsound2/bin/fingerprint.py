"""Print a digest of Kaldi tables and the files they list (size and modification time).

The stage script keys cached outputs with it, e.g. ``scores/speech.tsv.key`` holds the digest
of the real and generated ``wav.scp`` the scores came from; a different digest means the
cache is stale. Usage: ``python -m lipsound2.bin.fingerprint TABLE [TABLE ...]``.
"""

from __future__ import annotations

import argparse
import sys

from lipsound2.fileio.fingerprint import tables_fingerprint


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tables", nargs="+", help="Kaldi tables (wav.scp, text, ...)")
    args = p.parse_args(argv)
    print(tables_fingerprint(*args.tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())

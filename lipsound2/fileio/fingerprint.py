"""A digest of Kaldi tables and the files they list, to key cached results to their inputs.

A cached score must not outlive what it was computed from. Hashing a ``wav.scp`` alone is
not enough: re-vocoding writes new audio under the same paths. So the digest covers each
table's bytes and, for every value that names a file, that file's size and modification
time (as ``make`` does), without reading the audio itself.
"""

from __future__ import annotations

import hashlib
import os

from lipsound2.fileio.table import read_table


def tables_fingerprint(*tables: str | os.PathLike) -> str:
    """Hex digest of the tables' contents and the size and mtime of each listed file.

    A value that is no file (a pipe command, a missing path) enters by its text only, so a
    file that appears or disappears changes the digest too.
    """
    digest = hashlib.sha256()
    for table in tables:
        with open(table, "rb") as f:
            data = f.read()
        digest.update(len(data).to_bytes(8, "little") + data)
        for key, value in read_table(table).items():
            try:
                st = os.stat(value)
                digest.update(f"{key}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{key}\t-\n".encode())
    return digest.hexdigest()[:16]

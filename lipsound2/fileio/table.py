"""Kaldi-style text tables: one ``<key> <value>`` line per entry (scp, text, utt2spk, ...)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from lipsound2.fileio.atomic import atomic_open


def read_table(path: str | os.PathLike) -> dict[str, str]:
    """Read a table into an ordered dict; values may contain spaces.

    Raises ``ValueError`` naming the file and line for empty lines and duplicate keys.
    """
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                raise ValueError(f"{path}:{lineno}: empty line")
            key, _, value = line.partition(" ")
            if key in table:
                raise ValueError(f"{path}:{lineno}: duplicate key {key!r}")
            table[key] = value
    return table


def write_table(path: str | os.PathLike, entries: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
    """Write entries sorted by key in C order (what ``LC_ALL=C sort`` gives), atomically."""
    items = entries.items() if isinstance(entries, Mapping) else entries
    rows = sorted(items, key=lambda kv: kv[0].encode("utf-8"))
    with atomic_open(path, "w", encoding="utf-8") as f:
        for key, value in rows:
            if not key or any(c.isspace() for c in key):
                raise ValueError(f"{path}: invalid key {key!r}")
            f.write(f"{key} {value}\n")

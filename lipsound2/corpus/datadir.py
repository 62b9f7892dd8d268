"""Kaldi data directories of audio-visual utterances, and the splits that fill them.

Utterance ids are ``<speaker>-<name>``: with "-" (which sorts before the digits) the utterance
order and the speaker order agree even for speakers s1 and s10, as Kaldi's tools require.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipsound2.fileio.table import write_table

#: The transcripts of a data dir's utterances that a stage rejected (beside its ``rejects``):
#: scoring expects them and counts them as failed.
REJECTED_TEXT = "text.rejected"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One utterance: its speaker, media and (when known) transcript. Audio-only corpora
    (audio pre-training) have no ``video`` and a ``wav``."""

    utt: str
    speaker: str
    video: str | None
    text: str | None = None
    wav: str | None = None


def utt_id(speaker: str, name: str) -> str:
    """``<speaker>-<name>`` with whitespace (not allowed in ids) replaced."""
    return f"{speaker}-{'_'.join(name.split())}"


def write_datadir(outdir: str | os.PathLike, entries: Sequence[Entry]) -> None:
    """Write ``video.scp`` (when every entry has a video: all or none must), ``utt2spk``,
    ``spk2utt``, ``text`` (when every entry has one) and ``wav.scp`` (when every entry has a
    separate audio file), all sorted in C order."""
    if not entries:
        raise ValueError(f"{outdir}: no utterances to write")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ids = [e.utt for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{outdir}: duplicate utterance ids")
    videos = [e.video is not None for e in entries]
    if any(videos) and not all(videos):
        raise ValueError(f"{outdir}: some utterances have a video and some do not")
    if not any(videos) and any(e.wav is None for e in entries):
        raise ValueError(f"{outdir}: an audio-only utterance needs its audio file")
    write_table(outdir / "utt2spk", {e.utt: e.speaker for e in entries})
    by_spk: dict[str, list[str]] = defaultdict(list)
    for e in entries:
        by_spk[e.speaker].append(e.utt)
    write_table(outdir / "spk2utt", {s: " ".join(sorted(u, key=str.encode)) for s, u in by_spk.items()})
    tables = (
        ("video.scp", [e.video for e in entries]),
        ("text", [e.text for e in entries]),
        ("wav.scp", [e.wav for e in entries]),
    )
    for name, values in tables:
        path = outdir / name
        if all(v is not None for v in values):
            write_table(path, dict(zip(ids, values)))
        elif path.exists():
            path.unlink()  # a stale file from an earlier run must not survive


def split_shares(
    items: Sequence[str], shares: tuple[float, float], rng: np.random.Generator
) -> tuple[list[str], list[str], list[str]]:
    """Shuffle ``items`` and cut off dev and test shares (at least one each of a non-zero share
    when there are 3+ items; a zero share takes none)."""
    order = [items[i] for i in rng.permutation(len(items))]
    n = len(order)
    n_dev, n_test = (max(1, int(round(n * share))) if n >= 3 and share > 0 else 0 for share in shares)
    test, dev, train = order[:n_test], order[n_test : n_test + n_dev], order[n_test + n_dev :]
    return train, dev, test


def speaker_dependent(
    entries: Sequence[Entry], shares: tuple[float, float], seed: int
) -> dict[str, list[Entry]]:
    """Random train/dev/test split within each speaker (every speaker is in every set)."""
    by_spk: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_spk[e.speaker].append(e)
    out: dict[str, list[Entry]] = {"train": [], "dev": [], "test": []}
    for k, spk in enumerate(sorted(by_spk)):
        utts = {e.utt: e for e in by_spk[spk]}
        parts = split_shares(sorted(utts), shares, np.random.default_rng([seed, k]))
        for name, part in zip(("train", "dev", "test"), parts):
            out[name] += [utts[u] for u in part]
    return out


def by_speakers(entries: Iterable[Entry], speakers: Iterable[str]) -> list[Entry]:
    """The entries of the given speakers."""
    wanted = set(speakers)
    return [e for e in entries if e.speaker in wanted]

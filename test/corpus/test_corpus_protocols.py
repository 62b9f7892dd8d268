"""Pieces of the split protocols: share splitting, published split lists, TIMIT prompts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from lipsound2.bin.prepare_corpus import main as prepare
from lipsound2.corpus.datadir import split_shares
from lipsound2.corpus.readers import read_split_list, read_timit_prompts
from lipsound2.fileio.table import read_table


def test_a_zero_share_takes_nothing():
    items = [f"u{k}" for k in range(20)]
    train, dev, test = split_shares(items, (0.1, 0.0), np.random.default_rng(0))
    assert (len(train), len(dev), test) == (18, 2, [])
    train, dev, test = split_shares(items, (0.0, 0.0), np.random.default_rng(0))
    assert sorted(train) == sorted(items) and dev == test == []
    # a non-zero share still takes at least one of three or more
    assert [len(p) for p in split_shares(items[:3], (0.01, 0.01), np.random.default_rng(0))] == [1, 1, 1]


def test_split_list_reading(tmp_path):
    good = tmp_path / "list.txt"
    good.write_text("# a comment\ns1/bbaf2n\ns10/lwbsza\n\n01M/sx3\n")
    assert read_split_list(good) == [("s1", "bbaf2n"), ("s10", "lwbsza"), ("01M", "sx3")]
    for body, message in (("s1/a\ns1 b\n", ":2: not a"), ("s1/a\ns1/a\n", ":2: s1/a listed twice")):
        bad = tmp_path / "bad.txt"
        bad.write_text(body)
        with pytest.raises(ValueError, match=message):
            read_split_list(bad)


# Published transcripts of TCD-TIMIT clips (mpc001/Visual_Speech_Recognition_for_Multiple_Languages,
# benchmarks/TCDTIMIT/labels/overlapped_test.ref), against prompts written as TIMIT writes them.
PROMPTS = """\
; TIMIT-style prompt list (a few lines, made up to match LDC's PROMPTS.TXT format)
;
Don't ask me to carry an oily rag like that. (sa2)
A moth zig-zagged along the path through Otto's garden. (sx426)
Take charge of choosing her bride's maids' gowns. (sx342)
"Are you a thrower of flame, Marine?" (si2043)
He says he'll be here on the one o'clock plane. (si2188)
this line has no id
Never happier in my life. (si548)
Never happier, twice. (si548)
"""
PUBLISHED = {
    "sa2": "DON'T ASK ME TO CARRY AN OILY RAG LIKE THAT",
    "sx426": "A MOTH ZIG ZAGGED ALONG THE PATH THROUGH OTTO'S GARDEN",
    "sx342": "TAKE CHARGE OF CHOOSING HER BRIDE'S MAIDS' GOWNS",
    "si2043": "ARE YOU A THROWER OF FLAME MARINE",
    "si2188": "HE SAYS HE'LL BE HERE ON THE ONE O'CLOCK PLANE",
    "si548": "NEVER HAPPIER IN MY LIFE",
}


def test_timit_prompts_give_the_published_transcripts(tmp_path, caplog):
    path = tmp_path / "PROMPTS.TXT"
    path.write_text(PROMPTS)
    with caplog.at_level(logging.WARNING):
        prompts = read_timit_prompts(path)
    assert prompts == {sid: words.lower() for sid, words in PUBLISHED.items()}
    assert f"{path}:8: not a '<sentence> (<id>)' line" in caplog.text
    assert f"{path}:10: prompt si548 given twice" in caplog.text
    empty = tmp_path / "empty.txt"
    empty.write_text("; only comments\n")
    with pytest.raises(ValueError, match="no '<sentence> \\(<id>\\)' prompt lines"):
        read_timit_prompts(empty)


def _tiny_grid(root: Path, codes: dict[str, list[str]]) -> Path:
    for spk, names in codes.items():
        for name in names:
            video = root / spk / "video" / "mpg_6000" / f"{name}.mpg"
            video.parent.mkdir(parents=True, exist_ok=True)
            video.write_bytes(b"not decoded in stage 0")
    return root


def test_listed_test_utterances_missing_from_the_corpus_are_reported(tmp_path, caplog):
    corpus = _tiny_grid(
        tmp_path / "grid",
        {"s1": ["bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a"], "s2": ["lwbsza", "pwij3p", "sbia1a", "swwp2s"]},
    )
    listed = tmp_path / "test.txt"
    listed.write_text("s1/bbaf2n\ns2/lwbsza\ns2/bbbbzn\ns9/bbaf2n\n")  # s2/bbbbzn absent, s9 not read
    out = tmp_path / "data"
    args = ["grid", "--grid_root", str(corpus), "--protocol", "overlapped", "--datadir", str(out)]
    assert prepare(args) == 1 and "needs --test_list" in caplog.text
    with caplog.at_level(logging.INFO):
        assert prepare([*args, "--test_list", str(listed), "--dev_share", "0.2"]) == 0
    assert "1 listed test utterances not in the corpus (e.g. s2-bbbbzn)" in caplog.text
    assert set(read_table(out / "test_overlapped" / "utt2spk")) == {"s1-bbaf2n", "s2-lwbsza"}
    rest = read_table(out / "train_overlapped" / "utt2spk") | read_table(out / "dev_overlapped" / "utt2spk")
    assert len(rest) == 6

"""WER / CER on hand-made pairs."""

from __future__ import annotations

import pytest

from lipsound2.metrics.text import ErrorCounts, error_counts, metric_for_lang, normalize, pooled_rate


def test_wer_hand_made_pairs():
    c = error_counts("bin blue at f two now", "bin blue at f too now")
    assert (c.substitutions, c.deletions, c.insertions, c.ref_length) == (1, 0, 0, 6)
    assert c.rate == pytest.approx(100 / 6)
    c = error_counts("set red with a one please", "set red a one please again")
    assert (c.deletions, c.insertions, c.errors) == (1, 1, 2)


def test_normalisation_ignores_case_and_punctuation():
    assert normalize("Hello,  world!  It's me.") == "HELLO WORLD IT'S ME"
    assert error_counts("I HAVE LONG BEEN", "i have, long been.").errors == 0


def test_digits_are_spelled_out():
    assert normalize("Lay blue at X4 now, 10 15 minutes 2026") == (
        "LAY BLUE AT X FOUR NOW TEN FIFTEEN MINUTES TWO ZERO TWO SIX"
    )
    assert error_counts("PLACE WHITE IN J THREE PLEASE", "Place white in J3 please.").errors == 0


def test_cer_for_chinese_ignores_spaces():
    assert metric_for_lang("zh") == "cer" and metric_for_lang("en") == "wer"
    c = error_counts("今天 天气 很好", "今天天气不好", metric="cer")
    assert (c.substitutions, c.ref_length) == (1, 6)


def test_empty_sides_and_pooling():
    assert error_counts("a b c", "").deletions == 3
    assert error_counts("", "x y").insertions == 2
    counts = [ErrorCounts(1, 0, 0, 4), ErrorCounts(0, 1, 1, 6)]
    assert pooled_rate(counts) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        error_counts("a", "b", metric="ser")

"""The ARPA writer: a proper distribution, and kenlm reads back the same probabilities."""

from __future__ import annotations

import math

import kenlm
import pytest

from lipsound2.asr.ngram import BOS, EOS, UNK, KneserNeyLM

SENTS = [s.split() for s in ["b i n <space> b l u e", "l a y <space> r e d", "b i n <space> r e d", "s e t"]]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one(order):
    lm = KneserNeyLM(SENTS, order)
    for context in [(), (BOS,), ("b", "i"), ("<space>", "r"), ("q", "z")]:
        total = sum(lm.prob(w, context) for w in lm.vocab)
        assert total == pytest.approx(1.0, abs=1e-9)
    assert lm.prob("never-seen") == lm.prob(UNK) > 0


def test_seen_continuations_beat_unseen():
    lm = KneserNeyLM(SENTS, 3)
    assert lm.prob("n", ("b", "i")) > 0.5
    assert lm.prob("t", ("b", "i")) < lm.prob("n", ("b", "i")) / 10


@pytest.mark.parametrize("order", [2, 3])
def test_kenlm_reads_arpa_and_agrees(tmp_path, order):
    lm = KneserNeyLM(SENTS, order)
    path = tmp_path / "lm dir" / "lm.arpa"
    lm.write_arpa(path)
    model = kenlm.Model(str(path))
    assert model.order == order
    for sent in ["b i n <space> b l u e", "s e t <space> r e d", "x y"]:
        toks = sent.split()
        ours = 0.0
        history = [BOS]
        for tok in [*toks, EOS]:
            ours += math.log10(lm.prob(tok, history))
            history.append(tok)
        assert model.score(sent, bos=True, eos=True) == pytest.approx(ours, abs=1e-4)


def test_empty_text_is_an_error():
    with pytest.raises(ValueError, match="no training text"):
        KneserNeyLM([], 3)

"""Word units for a closed vocabulary (GRID's 51 words): the token list and the LM are words."""

from __future__ import annotations

import kenlm
import pytest

from lipsound2.asr import espnet_asr
from lipsound2.fileio.table import read_table, write_table

GRID = {
    "u1": "bin blue at f two now",
    "u2": "lay red by g nine soon",
    "u3": "bin red with f two again",
}


def test_word_token_list_and_text_shapes(tmp_path):
    write_table(tmp_path / "data" / "text", GRID)
    tokens, bpemodel = espnet_asr.make_token_list(tmp_path / "data" / "text", tmp_path / "tok", "word")
    assert bpemodel is None
    listed = tokens.read_text().split()
    assert listed[:2] == ["<blank>", "<unk>"] and listed[-1] == "<sos/eos>"
    assert listed[2:5] == ["bin", "f", "red"]  # most frequent first (ties by name)
    assert set(listed[2:-1]) == {w for t in GRID.values() for w in t.split()}
    espnet_asr.write_text_shape(tmp_path / "data", "word", None, len(listed))
    assert read_table(tmp_path / "data" / "text_shape")["u1"] == f"6,{len(listed)}"


def test_word_ngram_knows_the_grammar(tmp_path):
    arpa = tmp_path / "lm.arpa"
    espnet_asr.train_ngram(GRID.values(), arpa, 3, "word", None)
    lm = kenlm.Model(str(arpa))
    seen, unseen = "bin blue at f two now", "now two f at blue bin"
    assert lm.score(seen) > lm.score(unseen) + 5  # log10: far more likely in GRID's word order


def test_unknown_token_type_is_refused(tmp_path):
    write_table(tmp_path / "text", GRID)
    with pytest.raises(ValueError, match="char, word or bpe"):
        espnet_asr.make_token_list(tmp_path / "text", tmp_path / "tok", "phn")

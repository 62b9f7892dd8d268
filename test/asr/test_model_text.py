"""Corpus text mapped to the letter case of the ASR's tokens; the <unk> that remains reported."""

from __future__ import annotations

import logging

import pytest
import sentencepiece as spm

from lipsound2.asr.model_text import for_model, letter_case, model_data_dir
from lipsound2.fileio.table import read_table, write_table

GRID = {"s1_bbaf2n": "bin blue at f two now", "s1_lgaz6n": "lay green at z six now"}
LIBRI = ["<blank>", "<unk>", "▁THE", "S", "'", "▁A", "ED", "<sos/eos>"]


@pytest.mark.parametrize(
    "units, case",
    [
        (LIBRI, "upper"),
        (["<blank>", "<unk>", "a", "b", "'", "<sos/eos>"], "lower"),
        (["<blank>", "<unk>", "你", "好", "<sos/eos>"], None),
        (["<blank>", "<unk>", "The", "the", "<sos/eos>"], None),
    ],
)
def test_letter_case_of_token_lists(units, case):
    assert letter_case(units) == case


@pytest.fixture(scope="module")
def upper_bpe(tmp_path_factory) -> dict:
    """A sentencepiece model and token list trained on upper-case GRID sentences."""
    d = tmp_path_factory.mktemp("bpe")
    words = "BIN LAY PLACE SET BLUE GREEN RED WHITE AT BY IN WITH A F Z ONE TWO SIX NOW SOON AGAIN PLEASE"
    (d / "train.txt").write_text("\n".join(" ".join(words.split()[i : i + 6]) for i in range(0, 20)) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(d / "train.txt"), model_prefix=str(d / "bpe"), vocab_size=40, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False,
    )  # fmt: skip
    sp = spm.SentencePieceProcessor(model_file=str(d / "bpe.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    tokens = ["<blank>", "<unk>", *(p for p in pieces if p not in ("<unk>", "<s>", "</s>")), "<sos/eos>"]
    return {"token_type": "bpe", "bpemodel": str(d / "bpe.model"), "token_list": tokens}


def test_lower_case_text_is_mapped_to_upper_case_bpe(upper_bpe, caplog):
    with caplog.at_level(logging.WARNING):
        mapped = for_model(GRID, upper_bpe, "grid text")
    assert mapped == {k: v.upper() for k, v in GRID.items()}
    assert not caplog.records  # every token known


def test_remaining_unknown_tokens_are_reported_with_their_share(caplog):
    config = {"token_type": "char", "token_list": ["<blank>", "<unk>", "A", "B", "<space>", "<sos/eos>"]}
    with caplog.at_level(logging.WARNING):
        mapped = for_model({"u1": "ab c"}, config, "some text")
    assert mapped == {"u1": "AB C"}
    # tokens A, B, <space>, C: one of four unknown
    (record,) = caplog.records
    assert "some text" in record.message and "25.00% of 4 tokens" in record.message


def test_model_data_dir_is_a_mapped_copy(tmp_path, upper_bpe):
    src = tmp_path / "src"
    write_table(src / "wav.scp", {k: f"/a/{k}.wav" for k in GRID})
    write_table(src / "speech_shape", {k: "16000" for k in GRID})
    write_table(src / "text", GRID)
    dst = model_data_dir(src, tmp_path / "dst", upper_bpe)
    assert read_table(dst / "text") == {k: v.upper() for k, v in GRID.items()}
    assert read_table(dst / "wav.scp") == read_table(src / "wav.scp")
    assert read_table(src / "text") == GRID  # the shared data dir is left as it was

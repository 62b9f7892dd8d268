"""Corpus transcripts in the letter case of an ASR model's tokens.

A pre-trained ASR knows the tokens it was trained on: LibriSpeech models spell upper case
("THE", "▁THE"), GRID's transcripts are lower case. Tokenised as they are, GRID's words
would be almost all ``<unk>``, and fine-tuning would teach the model to emit ``<unk>``. The
letter case of the token list (and of the sentencepiece model's pieces) decides how the
corpus text is mapped before the model sees it: fine-tuning data and the n-gram LM text.
Scoring needs no mapping (it compares upper-cased words, ``lipsound2.metrics.text``).
What still falls outside the token list is counted and reported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lipsound2.asr.espnet_asr import build_tokenizer
from lipsound2.fileio.table import read_table, write_table

log = logging.getLogger(__name__)

UNK = "<unk>"
# Share of cased letters in one case above which the tokens are taken to be in that case.
CASE_SHARE = 0.95


def token_list(config: dict[str, Any]) -> list[str]:
    """The config's ``token_list``: inline, or a file of one token per line."""
    tokens = config.get("token_list")
    if tokens is None:
        raise ValueError("no token_list in the ASR config")
    if isinstance(tokens, list):
        return [str(t) for t in tokens]
    return Path(tokens).read_text(encoding="utf-8").split()


def _units(config: dict[str, Any]) -> list[str]:
    """The model's text units: its token list, and the bpe model's pieces when it has one."""
    units = token_list(config)
    if config.get("token_type") == "bpe" and config.get("bpemodel"):
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(config["bpemodel"]))
        units += [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    return units


def letter_case(units: Iterable[str]) -> str | None:
    """``upper`` or ``lower`` when the units' cased letters are (almost) all so; else None."""
    upper = lower = 0
    for unit in units:
        if unit.startswith("<") and unit.endswith(">"):  # <blank>, <unk>, <sos/eos>
            continue
        upper += sum(c.isupper() for c in unit)
        lower += sum(c.islower() for c in unit)
    cased = upper + lower
    if cased and upper >= CASE_SHARE * cased:
        return "upper"
    if cased and lower >= CASE_SHARE * cased:
        return "lower"
    return None  # uncased script (Chinese) or a cased model: leave the text as it is


def to_case(text: str, case: str | None) -> str:
    return text.upper() if case == "upper" else text.lower() if case == "lower" else text


def unk_share(sentences: Iterable[str], config: dict[str, Any]) -> tuple[float, int]:
    """(share of tokens outside the model's token list, token count) of ``sentences``."""
    tokenizer = build_tokenizer(config.get("token_type", "char"), config.get("bpemodel"))
    known = set(token_list(config))
    total = unknown = 0
    for sentence in sentences:
        tokens = tokenizer.text2tokens(sentence)
        total += len(tokens)
        unknown += sum(t not in known or t == UNK for t in tokens)
    return (unknown / total if total else 0.0), total


def for_model(texts: dict[str, str], config: dict[str, Any], what: str) -> dict[str, str]:
    """``texts`` in the model's letter case; warns with the share of ``<unk>`` that remains."""
    case = letter_case(_units(config))
    mapped = {k: to_case(v, case) for k, v in texts.items()}
    share, total = unk_share(mapped.values(), config)
    if share > 0:
        log.warning(
            "%s: %.2f%% of %d tokens are not in the ASR's token list (%s text) and become %s",
            what,
            100 * share,
            total,
            case or "unchanged",
            UNK,
        )
    else:
        log.info("%s: every one of %d tokens is in the ASR's token list (%s text)", what, total, case)
    return mapped


def model_data_dir(src: str | os.PathLike, dst: str | os.PathLike, config: dict[str, Any]) -> Path:
    """A copy of the ESPnet data dir ``src`` with its ``text`` in the model's letter case."""
    src, dst = Path(src), Path(dst)
    for name in ("wav.scp", "speech_shape"):
        write_table(dst / name, read_table(src / name))
    write_table(dst / "text", for_model(read_table(src / "text"), config, str(src / "text")))
    return dst

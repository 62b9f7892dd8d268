"""GRID's fixed six-word grammar and its file naming (Cooke et al. 2006).

command colour preposition letter digit adverb, e.g. "bin blue at f two now", stored as
``bbaf2n``: the first letter of each word, the letter itself and the digit as a number ("z" for
zero). The reader decodes transcripts from these names; the generator names its clips with them.
"""

from __future__ import annotations

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # no "w": it has three syllables
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")


def grid_code(words: list[str]) -> str:
    """GRID's six-character file name of a sentence (``bin blue at f two now`` -> ``bbaf2n``)."""
    command, colour, prep, letter, digit, adverb = words
    digit_char = "z" if digit == "zero" else str(DIGITS.index(digit))
    return f"{command[0]}{colour[0]}{prep[0]}{letter}{digit_char}{adverb[0]}"


def grid_words(code: str) -> list[str]:
    """The sentence of a GRID file name (inverse of :func:`grid_code`)."""
    if len(code) != 6:
        raise ValueError(f"not a GRID utterance name: {code!r}")
    by_initial = [{w[0]: w for w in group} for group in (COMMANDS, COLOURS, PREPOSITIONS)]
    digit = "zero" if code[4] == "z" else DIGITS[int(code[4])]
    adverb = {w[0]: w for w in ADVERBS}[code[5]]
    return [by_initial[0][code[0]], by_initial[1][code[1]], by_initial[2][code[2]], code[3], digit, adverb]

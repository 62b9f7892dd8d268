"""Sentences: GRID's fixed six-word grammar (with GRID's file naming) and free English text.

GRID (Cooke et al. 2006): command colour preposition letter digit adverb, e.g. "bin blue at f
two now", stored as ``bbaf2n``: the first letter of each word, the letter itself and the
digit as a number ("z" for zero).
"""

from __future__ import annotations

import numpy as np

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # no "w": it has three syllables
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")


def grid_sentence(rng: np.random.Generator) -> list[str]:
    """A random GRID sentence as six words."""
    return [str(rng.choice(group)) for group in (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)]


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


# Free text for the pre-training set: small templates over everyday words give varied,
# grammatical sentences with many different phone sequences.
_SUBJECTS = (
    "the man",
    "my sister",
    "a teacher",
    "the old farmer",
    "our neighbour",
    "the children",
    "his father",
    "the doctor",
    "a young woman",
    "the driver",
    "her brother",
    "the players",
)
_VERBS = (
    "found",
    "painted",
    "carried",
    "moved",
    "bought",
    "cleaned",
    "opened",
    "watched",
    "fixed",
    "sold",
    "brought",
    "liked",
    "closed",
    "checked",
    "pushed",
    "loved",
)
_OBJECTS = (
    "a heavy box",
    "the red door",
    "some fresh bread",
    "the broken chair",
    "a small boat",
    "the garden fence",
    "two blue cups",
    "the morning paper",
    "a wooden table",
    "the big window",
    "three yellow apples",
    "the kitchen floor",
    "a warm coat",
    "the long rope",
    "five glass jars",
)
_PLACES = (
    "in the village",
    "near the river",
    "at the station",
    "before lunch",
    "after the rain",
    "on monday morning",
    "behind the house",
    "with great care",
    "for the whole family",
    "under the bridge",
    "by the lake",
    "every summer",
    "late at night",
    "without a word",
)
_QUESTIONS = (
    "where did you put the keys",
    "how many birds can you see",
    "why is the sky so dark",
    "who will open the shop today",
    "what time does the train leave",
    "can we meet again soon",
)


def free_sentence(rng: np.random.Generator) -> list[str]:
    """A random everyday English sentence (lower case words, no punctuation)."""
    if rng.random() < 0.15:
        return str(rng.choice(_QUESTIONS)).split()
    parts = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
    if rng.random() < 0.75:
        parts.append(rng.choice(_PLACES))
    return " ".join(str(p) for p in parts).split()

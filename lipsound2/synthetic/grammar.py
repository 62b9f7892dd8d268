"""Random sentences: GRID's six-word grammar (:mod:`lipsound2.corpus.grid`), free English text
(the audio-visual pre-training set) and story sentences (the audio-only set)."""

from __future__ import annotations

import numpy as np

from lipsound2.corpus.grid import ADVERBS, COLOURS, COMMANDS, DIGITS, LETTERS, PREPOSITIONS


def grid_sentence(rng: np.random.Generator) -> list[str]:
    """A random GRID sentence as six words."""
    return [str(rng.choice(group)) for group in (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)]


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


# Story sentences for the audio-only set: other words and another shape than the sets above,
# so that no audio-only sentence is one the audio-visual sets say.
_CHARACTERS = (
    "the captain",
    "an old sailor",
    "the queen",
    "a little girl",
    "the merchant",
    "the soldier",
    "a stranger",
    "the innkeeper",
    "the shepherd",
    "the princess",
    "a tired traveller",
    "the blacksmith",
)
_ACTIONS = (
    "walked slowly",
    "looked out",
    "waited patiently",
    "spoke softly",
    "turned away",
    "smiled gently",
    "stood still",
    "listened carefully",
    "laughed aloud",
    "wandered alone",
    "rode quickly",
    "sang quietly",
)
_WAYS = (
    "across the frozen valley",
    "through the dark forest",
    "toward the distant mountains",
    "beside the silver stream",
    "along the narrow path",
    "into the quiet harbour",
    "over the stone wall",
    "past the empty castle",
    "around the market square",
    "beneath the ancient oak",
)
_CLAUSES = (
    "while the snow was falling",
    "as the sun went down",
    "until the bells began to ring",
    "because nobody else would listen",
    "when the long winter ended",
    "and nobody knew why",
    "though the wind was cold",
    "before the ship set sail",
)


def story_sentence(rng: np.random.Generator) -> list[str]:
    """A random sentence of a story (lower case words, no punctuation)."""
    parts = [rng.choice(_CHARACTERS), rng.choice(_ACTIONS), rng.choice(_WAYS)]
    if rng.random() < 0.6:
        parts.append(rng.choice(_CLAUSES))
    return " ".join(str(p) for p in parts).split()

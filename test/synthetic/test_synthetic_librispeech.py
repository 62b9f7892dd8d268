"""The generated audio-only set: LibriSpeech's layout, read by the librispeech recipe's data
script, with sentences and voices that the audio-visual sets do not have."""

from __future__ import annotations

import numpy as np

from lipsound2.synthetic.generate import (
    AUDIO_BANK_OFFSET,
    PRETRAIN_BANK_OFFSET,
    bank_voice,
)
from lipsound2.synthetic.grammar import free_sentence, grid_sentence, story_sentence


def test_story_sentences_are_none_of_the_audio_visual_sets():
    rng = np.random.default_rng(0)
    stories = {" ".join(story_sentence(rng)) for _ in range(2000)}
    others = {" ".join(free_sentence(rng)) for _ in range(2000)} | {
        " ".join(grid_sentence(rng)) for _ in range(2000)
    }
    assert len(stories) > 500 and not stories & others


def test_audio_only_voices_are_none_of_the_audio_visual_voices():
    av = {bank_voice(i) for i in range(34)} | {bank_voice(PRETRAIN_BANK_OFFSET + i) for i in range(100)}
    audio = {bank_voice(AUDIO_BANK_OFFSET + i) for i in range(100)}
    assert len(audio) == 100 and not audio & av

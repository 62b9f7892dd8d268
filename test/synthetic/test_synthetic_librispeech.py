"""The generated audio-only set: LibriSpeech's layout, read by the librispeech recipe's data
script, with sentences and voices that the audio-visual sets do not have."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from lipsound2.fileio.table import read_table
from lipsound2.synthetic.generate import (
    AUDIO_BANK_OFFSET,
    PRETRAIN_BANK_OFFSET,
    bank_voice,
    generate_librispeech,
)
from lipsound2.synthetic.grammar import free_sentence, grid_sentence, story_sentence
from lipsound2.synthetic.speech import FESTIVAL_VOICES, festival_available


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


def test_generated_librispeech_layout_prepares_as_audio_only_sets(root, tmp_path):
    if not all(festival_available(v) for v in FESTIVAL_VOICES):
        pytest.skip("festival or its voices are not installed (tools/install.sh)")
    corpus = tmp_path / "libri"
    count = generate_librispeech(corpus, {"train-clean-100": 2, "dev-clean": 1}, chapters=1, utts=2, seed=0)
    assert count == 6 and generate_librispeech(corpus, {"train-clean-100": 2, "dev-clean": 1}, 1, 2, 0) == 0
    flacs = sorted(corpus.glob("*/*/*/*.flac"))
    assert len(flacs) == 6
    for flac in flacs:
        spk, chapter = flac.parent.parent.name, flac.parent.name
        assert flac.name.startswith(f"{spk}-{chapter}-")
        audio, rate = sf.read(flac)
        assert rate == 16000 and audio.ndim == 1 and 1.0 < len(audio) / rate < 8.0
        assert (flac.parent / f"{spk}-{chapter}.trans.txt").is_file()
    data = tmp_path / "data"
    proc = subprocess.run(
        ["local/data.sh", "--librispeech_root", str(corpus), "--datadir", str(data)],
        cwd=root / "egs" / "librispeech", capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    train = data / "librispeech_train_clean_100"
    assert not (train / "video.scp").exists()
    assert (
        len(read_table(train / "wav.scp")) == 4
        and len(read_table(data / "librispeech_dev_clean" / "wav.scp")) == 2
    )
    texts = read_table(train / "text")
    assert all(t.isupper() and len(t.split()) >= 6 for t in texts.values())

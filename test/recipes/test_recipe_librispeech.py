"""egs/librispeech's local/data.sh on a generated LibriSpeech layout: audio-only sets."""

from __future__ import annotations

import subprocess

import pytest
import soundfile as sf

from lipsound2.fileio.table import read_table
from lipsound2.synthetic.generate import generate_librispeech
from lipsound2.synthetic.speech import FESTIVAL_VOICES, festival_available


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

"""The paper's protocols through the recipes' local/data.sh, counted against the published lists
they reproduce (sources in each recipe's README): LipNet's GRID splits, TCD-TIMIT's speaker-
independent and overlapped splits, VoxCeleb2 pre-training on dev and test. The fake corpora are
full size: one tiny real clip, hard-linked under every name a protocol needs."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from lipsound2.bin.prepare_corpus import GRID_UNSEEN_TEST, TCD_TIMIT_EXCLUDED, TCD_TIMIT_SI_TEST
from lipsound2.corpus.grid import ADVERBS, COLOURS, COMMANDS, LETTERS, PREPOSITIONS, grid_code, grid_words
from lipsound2.corpus.readers import read_split_list
from lipsound2.fileio.table import read_table

ROOT = Path(__file__).resolve().parents[2]
GRID_LIST = ROOT / "egs" / "grid" / "local" / "lists" / "overlapped_test.txt"
TCD_LIST = ROOT / "egs" / "tcd_timit" / "local" / "lists" / "overlapped_test.txt"
GRID_WITH_VIDEO = [f"s{i}" for i in range(1, 35) if i != 21]  # s21 has no video
GRID_EXTRA = 6  # unlisted sentences per speaker in the fake GRID: they train
# pyVSR tcdtimit/files.py (Harte and Gillen's protocol): the 39 training volunteers.
TCD_SI_TRAIN = [
    "24M",
    "04M",
    "26M",
    "02M",
    "32F",
    "47M",
    "06M",
    "50F",
    "59F",
    "23M",
    "19M",
    "05F",
    "31F",
    "22M",
    "01M",
    "39M",
    "46F",
    "11F",
    "42M",
    "57M",
    "43F",
    "29M",
    "17F",
    "37F",
    "21M",
    "12M",
    "38F",
    "48M",
    "16M",
    "52M",
    "40F",
    "13F",
    "14M",
    "03F",
    "20M",
    "51F",
    "30F",
    "10M",
    "07F",
]
TCD_PER_VOLUNTEER = 98  # TIMIT sentences each volunteer read (31 test + 67 train in overlapped)
VOX_DEV, VOX_TEST = 5994, 118  # VoxCeleb2's speakers: 6,112 in all


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.link(src, dst)


def _data_sh(recipe: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["local/data.sh", *args], cwd=ROOT / "egs" / recipe, capture_output=True, text=True)


def _utt2spk(datadir: Path, name: str) -> dict[str, str]:
    return read_table(datadir / name / "utt2spk")


def _by_speaker(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for spk, name in pairs:
        out[spk].append(name)
    return out


# --- GRID (LipNet, Assael et al. 2016; the LipSound2 paper's Table VI) -----------------------


def test_grid_overlapped_list_is_255_sentences_of_each_speaker():
    listed = read_split_list(GRID_LIST)
    per_speaker = Counter(spk for spk, _ in listed)
    assert len(listed) == 8415
    assert sorted(per_speaker) == sorted(GRID_WITH_VIDEO) and set(per_speaker.values()) == {255}
    assert all(len(grid_words(name)) == 6 for _, name in listed)


@pytest.fixture(scope="module")
def grid_corpus(media, tmp_path_factory) -> tuple[Path, dict[str, list[str]]]:
    """Every speaker with video: the 255 listed sentences and GRID_EXTRA others (layout b)."""
    listed = _by_speaker(read_split_list(GRID_LIST))
    combos = itertools.product(COMMANDS, COLOURS, PREPOSITIONS, LETTERS, ["one"], ADVERBS)
    codes = [grid_code(list(words)) for words in combos]
    corpus = tmp_path_factory.mktemp("grid") / "GRID corpus"
    for spk in GRID_WITH_VIDEO:
        extra = [c for c in codes if c not in set(listed[spk])][:GRID_EXTRA]
        for code in listed[spk] + extra:
            _link(media["mpg"], corpus / spk / "video" / "mpg_6000" / f"{code}.mpg")
    return corpus, listed


def test_grid_overlapped_split_is_the_published_list(grid_corpus, tmp_path):
    corpus, listed = grid_corpus
    data = tmp_path / "data"
    proc = _data_sh("grid", "--grid_root", str(corpus), "--protocol", "overlapped", "--datadir", str(data))
    assert proc.returncode == 0, proc.stderr[-3000:]
    test = _utt2spk(data, "test_overlapped")
    assert set(test) == {f"{spk}-{name}" for spk, names in listed.items() for name in names}
    assert len(test) == 8415 and set(Counter(test.values()).values()) == {255}
    rest = _utt2spk(data, "train_overlapped") | _utt2spk(data, "dev_overlapped")
    assert len(rest) == len(GRID_WITH_VIDEO) * GRID_EXTRA and not set(rest) & set(test)
    # overlapped speakers: every speaker trains and tests
    assert set(_utt2spk(data, "train_overlapped").values()) == set(test.values())


def test_grid_unseen_split_holds_out_s1_s2_s20_s22(grid_corpus, tmp_path):
    corpus, listed = grid_corpus
    data = tmp_path / "data"
    proc = _data_sh("grid", "--grid_root", str(corpus), "--protocol", "unseen", "--datadir", str(data))
    assert proc.returncode == 0, proc.stderr[-3000:]
    per_speaker = 255 + GRID_EXTRA
    test = _utt2spk(data, "test_unseen")
    assert set(test.values()) == set(GRID_UNSEEN_TEST) == {"s1", "s2", "s20", "s22"}
    assert len(test) == 4 * per_speaker  # every clip of the four (the published list: 4 x 1000)
    rest = _utt2spk(data, "train_unseen") | _utt2spk(data, "dev_unseen")
    assert set(rest.values()) == set(GRID_WITH_VIDEO) - set(GRID_UNSEEN_TEST)
    assert len(rest) == 29 * per_speaker


# --- TCD-TIMIT (Harte and Gillen 2015; lip reading: the overlapped split) --------------------


def test_tcd_timit_lists_have_the_published_counts():
    listed = read_split_list(TCD_LIST)
    per_volunteer = Counter(spk for spk, _ in listed)
    assert len(listed) == 1736 and len(per_volunteer) == 56 and set(per_volunteer.values()) == {31}
    assert not set(per_volunteer) & set(TCD_TIMIT_EXCLUDED)
    assert sorted(TCD_SI_TRAIN + list(TCD_TIMIT_SI_TEST)) == sorted(per_volunteer)
    assert (len(TCD_SI_TRAIN), len(TCD_TIMIT_SI_TEST)) == (39, 17)


@pytest.fixture(scope="module")
def tcd_corpus(media, tmp_path_factory) -> tuple[Path, Path, dict[str, list[str]]]:
    """59 volunteers of 98 clips each (56 listed ones: their 31 test ids and 67 others; the 3 left
    out), the TIMIT prompt file for every id used."""
    listed = _by_speaker(read_split_list(TCD_LIST))
    pool = [f"sx{k}" for k in range(3, 453)]
    root = tmp_path_factory.mktemp("tcd") / "TCD TIMIT"
    used: set[str] = set()
    for spk in sorted(listed) + list(TCD_TIMIT_EXCLUDED):
        names = listed.get(spk, [])
        names = names + [n for n in pool if n not in set(names)][: TCD_PER_VOLUNTEER - len(names)]
        used.update(names)
        for name in names:
            _link(media["mp4"], root / "volunteers" / spk / "Clips" / "straightcam" / f"{name}.mp4")
    prompts = root / "PROMPTS.TXT"
    lines = [";", "; TIMIT prompts (a made-up stand-in in LDC's format)", ";"]
    lines += [f"Sentence {sid[2:]} of the {sid[:2]}-set. ({sid})" for sid in sorted(used)]
    prompts.write_text("\n".join(lines) + "\n")
    return root, prompts, listed


def test_tcd_timit_overlapped_split_is_the_published_list(tcd_corpus, tmp_path):
    corpus, prompts, listed = tcd_corpus
    data = tmp_path / "data"
    proc = _data_sh(
        "tcd_timit", "--tcd_timit_root", str(corpus), "--protocol", "overlapped", "--datadir", str(data)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    test = _utt2spk(data, "test_overlapped")
    assert set(test) == {f"{spk}-{name}" for spk, names in listed.items() for name in names}
    assert len(test) == 56 * 31 == 1736
    rest = _utt2spk(data, "train_overlapped") | _utt2spk(data, "dev_overlapped")
    assert len(rest) == 56 * 67 and set(rest.values()) == set(listed)
    assert read_table(data / "test_overlapped" / "text")["01M-sx100"] == "sentence 100 of the sx set"


def test_tcd_timit_speaker_independent_split_is_39_and_17_volunteers(tcd_corpus, tmp_path):
    corpus, prompts, _ = tcd_corpus
    data = tmp_path / "data"
    opts = ("--tcd_timit_root", str(corpus), "--timit_prompts", str(prompts), "--datadir", str(data))
    proc = _data_sh("tcd_timit", *opts, "--protocol", "si")
    assert proc.returncode == 0, proc.stderr[-3000:]
    test = _utt2spk(data, "test_si")
    rest = _utt2spk(data, "train_si") | _utt2spk(data, "dev_si")
    assert set(test.values()) == set(TCD_TIMIT_SI_TEST) and len(test) == 17 * TCD_PER_VOLUNTEER
    assert set(rest.values()) == set(TCD_SI_TRAIN) and len(rest) == 39 * TCD_PER_VOLUNTEER


# --- VoxCeleb2 (pre-training on dev and test, 6,112 speakers) --------------------------------


def test_voxceleb2_pretrains_on_dev_and_test_with_held_out_speakers(media, tmp_path):
    corpus = tmp_path / "VoxCeleb 2"
    for part, first, count in (("dev", 1, VOX_DEV), ("test", VOX_DEV + 1, VOX_TEST)):
        for k in range(first, first + count):
            _link(media["mp4"], corpus / part / "mp4" / f"id{k:05d}" / "vid" / "00001.mp4")
    data = tmp_path / "data"
    proc = _data_sh("voxceleb2", "--voxceleb2_root", str(corpus), "--datadir", str(data))
    assert proc.returncode == 0, proc.stderr[-3000:]
    train, valid = _utt2spk(data, "voxceleb2_train"), _utt2spk(data, "voxceleb2_valid")
    assert len(set(train.values()) | set(valid.values())) == 6112
    assert len(set(valid.values())) == round(0.05 * 6112) == 306
    assert not set(train.values()) & set(valid.values())
    test_part = {f"id{k:05d}" for k in range(VOX_DEV + 1, VOX_DEV + VOX_TEST + 1)}
    assert test_part <= set(train.values()) | set(valid.values())
    assert not (data / "voxceleb2_test").exists()

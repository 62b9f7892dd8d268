"""The recipes' local/data.sh scripts on small fake trees in each corpus' real layout (tiny real
media files made with ffmpeg), and mini_grid's stage 0 through run.sh on a generated corpus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lipsound2.fileio.table import read_table

GRID_CODES = ["bbaf2n", "lwbsza", "pwij3p", "sbia1a", "swwp2s"]


def _run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(["local/data.sh", *args], cwd=recipe, capture_output=True, text=True)
    return proc


def _speakers(datadir: Path, name: str) -> set[str]:
    return set(read_table(datadir / name / "utt2spk").values())


def _align(words: list[str], crlf: bool) -> str:
    rows = ["0 12250 sil"] + [f"{12250 + i * 5000} {17250 + i * 5000} {w}" for i, w in enumerate(words)]
    rows.append(f"{12250 + len(words) * 5000} 74500 sil")
    return ("\r\n" if crlf else "\n").join(rows) + "\n"


def _fake_grid(root: Path, media: dict[str, Path], layout: str) -> Path:
    from lipsound2.corpus.grid import grid_words

    for spk in ("s1", "s2", "s10"):
        for k, code in enumerate(GRID_CODES):
            if layout == "a":
                video, align = root / spk / f"{code}.mpg", root / "alignments" / spk / f"{code}.align"
                wav = root / "audio_25k" / spk / f"{code}.wav"
                wav.parent.mkdir(parents=True, exist_ok=True)
                sf.write(wav, np.zeros(2500, np.float32), 25000)
            else:
                video, align = (
                    root / spk / "video" / "mpg_6000" / f"{code}.mpg",
                    root / spk / "align" / f"{code}.align",
                )
            video.parent.mkdir(parents=True, exist_ok=True)
            align.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(media["mpg"], video)
            if k != 2:  # one utterance per speaker without alignment: text from the GRID file name
                align.write_bytes(_align(grid_words(code), crlf=k % 2 == 0).encode())
    # an empty (broken) download is skipped with a warning, not fatal
    (root / "s2" / ("bbbbzn.mpg" if layout == "a" else "video/mpg_6000/bbbbzn.mpg")).write_bytes(b"")
    return root


@pytest.mark.parametrize("layout", ["a", "b"])
def test_grid_data_sh_both_protocols(layout, media, tmp_path, root):
    corpus = _fake_grid(tmp_path / "GRID corpus", media, layout)
    data = tmp_path / "data"
    recipe = root / "egs" / "grid"
    proc = _run(
        recipe,
        "--grid_root",
        str(corpus),
        "--protocol",
        "sd",
        "--speakers",
        "s1 s2 s10",
        "--dev_share",
        "0.2",
        "--test_share",
        "0.2",
        "--datadir",
        str(data),
    )
    assert proc.returncode == 0, proc.stderr
    assert "empty file, skipped" in proc.stderr
    sizes = [len(read_table(data / f"{p}_sd" / "utt2spk")) for p in ("train", "dev", "test")]
    assert sizes == [9, 3, 3]
    text = read_table(data / "train_sd" / "text") | read_table(data / "test_sd" / "text")
    assert text.get("s1-swwp2s", "set white with p two soon") == "set white with p two soon"
    assert (data / "train_sd" / "wav.scp").exists() == (layout == "a")

    proc = _run(recipe, "--grid_root", str(corpus), "--protocol", "si", "--datadir", str(data))
    assert proc.returncode == 0, proc.stderr
    assert _speakers(data, "train_si") == {"s1"}
    assert _speakers(data, "dev_si") == {"s2"}
    assert _speakers(data, "test_si") == {"s10"}
    # utterance ids sort in the same order as their speakers even with s1 and s10
    assert list(read_table(data / "train_si" / "utt2spk")) == sorted(
        read_table(data / "train_si" / "utt2spk")
    )


def test_grid_data_sh_reports_a_missing_corpus(tmp_path, root):
    proc = _run(
        root / "egs" / "grid", "--grid_root", str(tmp_path / "nowhere"), "--datadir", str(tmp_path / "d")
    )
    assert proc.returncode != 0 and "GRID not found" in proc.stderr


TIMIT_IDS = ["sa1", "sa2"] + [f"si{i}" for i in range(1, 19)]


def test_tcd_timit_data_sh(media, tmp_path, root):
    corpus = tmp_path / "TCD TIMIT"
    speakers = {
        "lipspeakers": ["Lipspkr1", "Lipspkr2", "Lipspkr3"],
        "volunteers": ["01M", "08F", "09F", "10M"],
    }
    for group, spks in speakers.items():
        for spk in spks:
            clips = corpus / group / spk / "Clips" / "straightcam"
            clips.mkdir(parents=True)
            for utt in TIMIT_IDS:
                shutil.copy(media["mp4"], clips / f"{utt}.mp4")
    prompts = tmp_path / "TIMIT prompts.txt"
    prompts.write_text(";\n" + "".join(f"Sentence number {i}. ({u})\n" for i, u in enumerate(TIMIT_IDS)))
    data = tmp_path / "data"
    recipe = root / "egs" / "tcd_timit"
    proc = _run(recipe, "--tcd_timit_root", str(corpus), "--datadir", str(data))
    assert proc.returncode != 0  # the release has no transcripts: TIMIT's prompt file is needed
    assert "https://catalog.ldc.upenn.edu/docs/LDC93S1/PROMPTS.TXT" in proc.stderr
    proc = _run(
        recipe, "--tcd_timit_root", str(corpus), "--timit_prompts", str(prompts), "--datadir", str(data)
    )
    assert proc.returncode == 0, proc.stderr
    assert [len(read_table(data / f"{p}_sd" / "utt2spk")) for p in ("train", "dev", "test")] == [54, 3, 3]
    assert _speakers(data, "test_sd") == set(speakers["lipspeakers"])
    proc = _run(
        recipe,
        "--tcd_timit_root",
        str(corpus),
        "--timit_prompts",
        str(prompts),
        "--protocol",
        "si",
        "--datadir",
        str(data),
    )
    assert proc.returncode == 0, proc.stderr
    assert _speakers(data, "test_si") == {"08F", "09F"}  # Harte and Gillen's test volunteers
    assert _speakers(data, "train_si") | _speakers(data, "dev_si") == {"01M", "10M"}
    assert read_table(data / "test_si" / "text")["08F-sa2"] == "sentence number 1"


def test_cmlr_data_sh(media, tmp_path, root):
    corpus = tmp_path / "CMLR"
    names = []
    for spk in ("s1", "s2", "s6", "s10"):
        for k in range(6):
            name = f"{spk}/20170121/section_{k}_000.41_002.34"
            names.append(name)
            for sub in ("video", "text", "audio"):
                (corpus / sub / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(media["mp4"], corpus / "video" / f"{name}.mp4")
            (corpus / "text" / f"{name}.txt").write_text("今天天气很好\n", encoding="utf-8")
            sf.write(corpus / "audio" / f"{name}.wav", np.zeros(1600, np.float32), 16000)
    (corpus / "train.csv").write_text("".join(f"{n}\n" for n in names[::2]))
    (corpus / "val.csv").write_text("".join(f"{n}\n" for n in names[1::4]))
    (corpus / "test.csv").write_text("".join(f"{n}\n" for n in names[3::4]))
    data = tmp_path / "data"
    recipe = root / "egs" / "cmlr"
    proc = _run(recipe, "--cmlr_root", str(corpus), "--datadir", str(data))
    assert proc.returncode == 0, proc.stderr
    assert [len(read_table(data / f"{p}_sd" / "utt2spk")) for p in ("train", "dev", "test")] == [12, 6, 6]
    expected = {f"{n.split('/')[0]}-{n.split('/', 1)[1].replace('/', '-')}" for n in names[3::4]}
    assert set(read_table(data / "test_sd" / "text")) == expected
    assert (data / "train_sd" / "wav.scp").is_file()
    proc = _run(recipe, "--cmlr_root", str(corpus), "--protocol", "si", "--datadir", str(data))
    assert proc.returncode == 0, proc.stderr
    assert _speakers(data, "test_si") == {"s1", "s6"}
    assert not (_speakers(data, "train_si") | _speakers(data, "dev_si")) & {"s1", "s6"}


def test_mini_grid_stage0_generates_and_prepares(tmp_path, root):
    from lipsound2.synthetic.speech import FESTIVAL_VOICES, festival_available

    if not all(festival_available(v) for v in FESTIVAL_VOICES):
        pytest.skip("festival voices not installed")
    opts = (
        f"--corpus_dir {tmp_path}/corpus --speakers 3 --utts 3 --pretrain_speakers 2 --pretrain_videos 1 "
        "--pretrain_clips 2 --audio_speakers 2 --audio_chapters 1 --audio_utts 2"
    )
    cmd = [
        "./run.sh",
        "--protocol",
        "si",
        "--stop_stage",
        "0",
        "--datadir",
        str(tmp_path / "data"),
        "--expdir",
        str(tmp_path / "exp"),
        "--local_data_opts",
        opts,
    ]
    proc = subprocess.run(cmd, cwd=root / "egs" / "mini_grid", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sets = ("train_si", "dev_si", "test_si", "voxceleb2_train", "voxceleb2_valid")
    for dset in sets + ("librispeech_train_clean_100", "librispeech_dev_clean"):
        assert f"{tmp_path}/data/{dset} is valid" in proc.stdout + proc.stderr
    assert not (tmp_path / "data" / "librispeech_dev_clean" / "video.scp").exists()  # audio only
    assert (tmp_path / "corpus" / "grid" / "audio_25k" / "s3").is_dir()
    assert _speakers(tmp_path / "data", "test_si") == {"s3"}
    # the comparisons' background jobs (stages 4-6) are not started, nor their logs emptied
    assert not list((tmp_path / "exp").glob("lipsound2_*.log"))
    assert "running in the background" not in proc.stderr
    again = subprocess.run(cmd, cwd=root / "egs" / "mini_grid", capture_output=True, text=True)
    assert again.returncode == 0 and f"Stage 0: {tmp_path}/data: done" in again.stderr
    assert "is valid" not in again.stdout + again.stderr  # nothing prepared, nothing to check
    # other options (here the other protocol) prepare again, reusing the generated corpus
    cmd[2] = "sd"
    other = subprocess.run(cmd, cwd=root / "egs" / "mini_grid", capture_output=True, text=True)
    assert other.returncode == 0, other.stderr[-3000:]
    assert f"Stage 0: {tmp_path}/data: redo, since" in other.stderr
    assert "already generated with these settings" in other.stderr
    assert _speakers(tmp_path / "data", "test_sd") == {"s1", "s2", "s3"}


@pytest.mark.parametrize("switch", ["--baselines", "--units", "--audio_pretrain", "--pretrained_vocoder"])
def test_mini_grid_refuses_a_switch_that_is_neither_true_nor_false(root, switch):
    """``--pretrained_vocoder yes`` would otherwise run without the rows it asks for."""
    cmd = ["./run.sh", switch, "yes", "--stage", "9"]
    proc = subprocess.run(cmd, cwd=root / "egs" / "mini_grid", capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"{switch} takes true or false, not 'yes'" in proc.stderr

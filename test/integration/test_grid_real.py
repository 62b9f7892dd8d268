"""The GRID recipe on real clips: stages 0-2 and a few training updates on 20 clips of speaker s1.

The generated corpus is cleaner than real video and speech; this catches what only real data
shows. A throw-away GRID root in the release layout (a) links 20 real s1 clips and their
alignments, plus one clip whose middle was overwritten (a damaged copy), which stage 1 must
reject with its reason while the rest goes on. egs/grid is copied under a path with a space
and run through its own run.sh, as a user would run it. Needs the real clips (skips without).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lipsound2.corpus.grid import grid_words
from lipsound2.fileio.ark import load_array
from lipsound2.fileio.facetrack import read_face_track
from lipsound2.fileio.table import read_table
from lipsound2.frontend.config import load_config

SETS = ("train_sd", "dev_sd", "test_sd")
CLIP_STRIDE = 25  # every 25th of the 500 clips: 20 clips, every command, colour and adverb
DAMAGED = "bbbs4n"  # another real clip, its middle overwritten; the seed-0 split puts it in train
VIDEO_FRAMES = 75  # GRID: 3 s at 25 fps
TRAIN_UPDATES = 3
TRAIN_CONFIG = "conf/train_tiny.yaml"  # written into the recipe copy
TRAIN_TAG = "lipsound2_train_tiny"
# The recipe's own files: anything else in a user's egs/grid (data, dump, exp) stays behind.
RECIPE_FILES = (
    "run.sh",
    "lipsound2.sh",
    "stage_options.sh",
    "stage_steps.sh",
    "path.sh",
    "cmd.sh",
    "db.sh",
    "utils",
    "conf",
    "local",
)


def _align_words(path: Path) -> list[str]:
    """The words of a GRID .align file, read here independently of the recipe's reader."""
    return [line.split()[2] for line in path.read_text().splitlines() if line.split()[2] not in ("sil", "sp")]


def _grid_root(src: Path, dst: Path) -> list[str]:
    """Release layout (a) under ``dst`` with links to real clips, and one damaged copy."""
    names = sorted(p.stem for p in (src / "s1").glob("*.mpg"))[::CLIP_STRIDE]
    assert len(names) == 20 and DAMAGED not in names
    (dst / "s1").mkdir(parents=True)
    (dst / "alignments" / "s1").mkdir(parents=True)
    for name in names + [DAMAGED]:
        (dst / "alignments" / "s1" / f"{name}.align").symlink_to(src / "alignments" / "s1" / f"{name}.align")
    for name in names:
        (dst / "s1" / f"{name}.mpg").symlink_to(src / "s1" / f"{name}.mpg")
    data = bytearray((src / "s1" / f"{DAMAGED}.mpg").read_bytes())
    data[40_000:240_000] = np.random.default_rng(0).bytes(200_000)
    (dst / "s1" / f"{DAMAGED}.mpg").write_bytes(bytes(data))
    return names


def _recipe(root: Path, top: Path) -> Path:
    """A copy of egs/grid inside a tree shaped like the repository (path.sh finds tools/ two levels
    up), its links to egs/TEMPLATE and utils/ kept."""
    (top / "egs").mkdir(parents=True)
    for name in ("tools", "utils"):
        (top / name).symlink_to(root / name)
    (top / "egs" / "TEMPLATE").symlink_to(root / "egs" / "TEMPLATE")
    recipe = top / "egs" / "grid"
    recipe.mkdir()
    for name in RECIPE_FILES:
        src = root / "egs" / "grid" / name
        if src.is_symlink():
            (recipe / name).symlink_to(os.readlink(src))
        elif src.is_dir():
            shutil.copytree(src, recipe / name, symlinks=True)
        else:
            shutil.copy2(src, recipe / name)
    conf = yaml.safe_load((root / "egs" / "TEMPLATE" / "conf" / "train_cpu.yaml").read_text())
    conf.update(max_epoch=1, num_iters_per_epoch=TRAIN_UPDATES, batch_size=4, keep_nbest_models=1)
    (recipe / TRAIN_CONFIG).write_text(yaml.safe_dump(conf))
    return recipe


def _run(recipe: Path, env: dict[str, str], *args: str) -> None:
    cmd = ["./run.sh", *args]
    res = subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-6000:]


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, root, grid_s1):
    work = tmp_path_factory.mktemp("grid_real")
    names = _grid_root(grid_s1, work / "grid root")
    recipe = _recipe(root, work / "lipsound2 copy")
    env = {**os.environ, "GRID": str(work / "grid root"), "OMP_NUM_THREADS": "1"}
    common = ("--nj", "2", "--local_data_opts", "--speakers s1")
    _run(recipe, env, *common, "--stage", "0", "--stop_stage", "0")
    # One reject would fail a 1-clip dev or test set (--max_reject_share): it must be in train.
    train_sd = read_table(recipe / "data" / "train_sd" / "video.scp")
    assert f"s1-{DAMAGED}" in train_sd, "the split moved the damaged clip out of train_sd; pick another"
    _run(recipe, env, *common, "--stage", "1", "--stop_stage", "2")
    # run.sh fine-tunes the VoxCeleb2 model; here a tiny model from scratch
    scratch = ("--pretrain_model", "", "--init_from_pretrain", "false")
    _run(recipe, env, *common, "--stage", "4", "--stop_stage", "4", "--train_config", TRAIN_CONFIG, *scratch)
    return recipe, names


def test_stage0_every_clip_with_the_words_of_its_alignment(recipe_run, grid_s1):
    recipe, names = recipe_run
    texts: dict[str, str] = {}
    for dset in SETS:
        table = read_table(recipe / "data" / dset / "text")
        assert table and not texts.keys() & table.keys()
        texts.update(table)
        assert set(read_table(recipe / "data" / dset / "utt2spk").values()) == {"s1"}
    assert texts.keys() == {f"s1-{n}" for n in names + [DAMAGED]}
    for name in names + [DAMAGED]:
        words = _align_words(grid_s1 / "alignments" / "s1" / f"{name}.align")
        assert texts[f"s1-{name}"] == " ".join(words)
        assert words == grid_words(name)  # the alignment says what the file name encodes
    assert len(read_table(recipe / "data" / "dev_sd" / "text")) == 1  # 5% of 21, at least one
    assert not (recipe / "data" / "train_sd" / "wav.scp").exists()  # audio from the videos


def test_stage1_every_clip_tracked_or_rejected_with_its_reason(recipe_run):
    recipe, names = recipe_run
    accepted, rejected = {}, {}
    for dset in SETS:
        data, dump = recipe / "data" / dset, recipe / "dump" / dset
        tracks = read_table(dump / "video.scp")
        rejects = read_table(dump / "rejects")
        assert tracks.keys() | rejects.keys() == read_table(data / "video.scp").keys()
        assert not tracks.keys() & rejects.keys()
        for table in ("feats.scp", "wav.scp", "utt2num_vframes", "utt2num_frames", "text"):
            assert read_table(dump / table).keys() == tracks.keys(), (dset, table)
        accepted.update(tracks)
        rejected.update(rejects)
    assert accepted.keys() == {f"s1-{n}" for n in names}
    assert rejected.keys() == {f"s1-{DAMAGED}"}
    assert "decode" in rejected[f"s1-{DAMAGED}"]  # the reason, not just the name


def test_stage1_face_tracks_and_audio(recipe_run):
    recipe, _ = recipe_run
    frontend = load_config(recipe / "conf" / "frontend.yaml")
    side, rate = frontend.crop.size, frontend.audio.sample_rate
    track_shape = (VIDEO_FRAMES, side, side) + (() if frontend.crop.gray else (3,))
    for dset in SETS:
        dump = recipe / "dump" / dset
        nvframes = read_table(dump / "utt2num_vframes")
        wavs = read_table(dump / "wav.scp")
        for utt, spec in read_table(dump / "video.scp").items():
            video = read_face_track(spec)
            assert video.shape == track_shape and video.dtype == np.uint8, utt
            assert int(nvframes[utt]) == VIDEO_FRAMES
            # a face, not a flat frame: the crop varies in space and the lips move in time
            assert video.std() > 20 and np.abs(np.diff(video.astype(np.int16), axis=0)).mean() > 0.5, utt
            with wave.open(wavs[utt]) as w:
                assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (rate, 1, 3 * rate), utt


def test_stage2_mel_matches_the_video_and_the_speech(recipe_run, grid_s1):
    recipe, _ = recipe_run
    frontend = load_config(recipe / "conf" / "frontend.yaml")
    expected = frontend.mel_per_video_frame * VIDEO_FRAMES  # 2.5 per video frame in the paper
    floor = np.log(frontend.mel.clip)
    for dset in SETS:
        dump = recipe / "dump" / dset
        nframes = read_table(dump / "utt2num_frames")
        for utt, spec in read_table(dump / "feats.scp").items():
            mel = load_array(spec)
            assert mel.shape == (int(nframes[utt]), frontend.mel.n_mels), utt
            # the front end's allowance: the tolerance, plus the frame a centred STFT adds
            assert expected - frontend.mel_tolerance <= len(mel) <= expected + 1 + frontend.mel_tolerance, utt
            # log-mel of a peak-normalised waveform: above the clip floor, well below its mirror
            assert np.isfinite(mel).all() and floor - 1e-3 <= mel.min() and mel.max() < -floor, utt
            assert mel.std() > 0.5, utt
            # louder inside the words than in the leading silence (.align: 1000 units per video frame)
            align = grid_s1 / "alignments" / "s1" / f"{utt[3:]}.align"
            rows = [line.split() for line in align.read_text().splitlines()]
            energy = mel.mean(axis=1)
            ends = [round(int(row[1]) * frontend.mel_per_video_frame / 1000) for row in rows]
            spoken = [k for k in range(1, len(rows)) if rows[k][2] not in ("sil", "sp")]
            lead = energy[: ends[0]].mean()
            words = [energy[ends[k - 1] : ends[k]] for k in spoken]
            assert np.concatenate(words).mean() > lead + 1.0, utt


def test_stage4_a_few_updates_give_a_finite_model(recipe_run):
    recipe, _ = recipe_run
    exp = recipe / "exp" / TRAIN_TAG
    assert yaml.safe_load((exp / "config.yaml").read_text())["init_param"] == []  # from scratch
    state = torch.load(exp / "valid.loss.best.pth", map_location="cpu", weights_only=True)
    assert any(k.startswith("encoder") for k in state)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert int(state["num_updates"]) == TRAIN_UPDATES
    train_log = (exp / "train.log").read_text()
    losses = [float(m) for m in _epoch_losses(train_log)]
    assert losses and all(np.isfinite(losses)), train_log[-3000:]


def _epoch_losses(train_log: str) -> list[str]:
    """The train and valid ``loss=`` values of ESPnet's epoch summary lines."""
    out = []
    for line in train_log.splitlines():
        if "epoch results:" in line:
            out += [part.split("=", 1)[1].rstrip(",") for part in line.split() if part.startswith("loss=")]
    return out

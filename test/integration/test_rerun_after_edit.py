"""Rerunning the GRID recipe after an edit redoes what the edit reaches, and only that.

Users edit a conf file (or their corpus) and run ``./run.sh --stage N`` again. The stage
scripts key every step's done marker on what made its output (lipsound2/recipe/marker.py)
and log one ``(step)`` line per step: ``done`` (skipped), ``new``, ``resuming`` or ``redo,
since`` followed by what changed. Here egs/grid runs through its own run.sh, as a user runs
it, on 10 real clips of GRID s1 (the seed-0 split: 8 train, 1 dev, 1 test), stages 0-9:

- a rerun with nothing edited runs no step and writes no output anew;
- the edits of ``EDITS``, made one after another in the recipe copy, are each followed by a
  rerun of stages 0-9, whose step lines must redo exactly the steps the edit reaches (all
  others say ``done``) and name the edited setting;
- a clean run of a fresh copy with every edit made before its first run ends where the
  incremental runs ended: the same face tracks, audio, mel, models, decoded mel, speech and
  hypotheses, bit for bit. It runs beside the edits' reruns (a run keeps about one of two
  cores busy).

Needs the real clips (skips without). About 13 minutes on 2 cores; the logs of every run
stay in the test's temporary folder (``logs/``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.facetrack import read_face_track
from lipsound2.fileio.table import read_table
from lipsound2_testing.trainer import NO_PLOTS

CLIP_STRIDE = 50  # every 50th of the 500 clips of s1: 10 clips, every split non-empty
EXCHANGE = ("lrik2n", "lrik4p")  # the corpus edit: the test clip out, its next clip by name in
SETS = ("train_sd", "dev_sd", "test_sd")
EXP = "exp/lipsound2_train_tiny"  # named after conf/train_tiny.yaml
TAG = "inference_valid.loss.best"  # the default inference tag
BASE_ASR = "exp/asr_scratch_asr_tiny_char"  # named after conf/asr_tiny.yaml and the char tokens
FT_ASR = f"{EXP}/asr_finetune_{TAG}"
OUTPUTS = ("data", "dump", "exp")  # what the stages write in the recipe dir
RUN_TIMEOUT = 1200  # seconds, one run of stages 0-9


def decode_dir(dset: str) -> str:
    return f"{EXP}/decode_{dset}_{TAG}"


OPTS = [
    "--nj", "2", "--inference_nj", "1", "--local_data_opts", "--speakers s1",
    "--pretrain_model", "",  # run.sh fine-tunes the VoxCeleb2 model; here a tiny one from scratch
    "--train_config", "conf/train_tiny.yaml",
    "--asr_config", "conf/asr_tiny.yaml", "--asr_finetune_config", "conf/asr_ft_tiny.yaml",
    "--num_plots", "1",
    "--judges", "pocketsphinx",  # stage 8's judge steps, with the quicker judge
]  # fmt: skip

# ---------------------------------------------------------------------------------------------
# The steps of a run of stages 0-9, by stage, as its (step) lines name them

STEPS: dict[int, tuple[str, ...]] = {
    0: ("data",),
    1: tuple(f"dump/{s} (tracks, audio)" for s in SETS),
    2: tuple(f"dump/{s} (mel)" for s in SETS),
    4: (f"{EXP} (training)",),
    5: tuple(decode_dir(s) for s in ("test_sd", "dev_sd", "train_sd")),
    6: (
        *(f"{decode_dir(s)} (speech)" for s in ("test_sd", "dev_sd", "train_sd")),
        f"{EXP}/oracle_test_sd (speech)",
    ),
    7: (
        "exp/asr_data/real_train (ASR data)",
        "exp/asr_data/real_valid (ASR data)",
        f"{EXP}/asr_data_{TAG}/gen_train (ASR data)",
        f"{EXP}/asr_data_{TAG}/gen_valid (ASR data)",
        f"{BASE_ASR} (ASR on real audio)",
        f"{FT_ASR} (ASR fine-tuning)",
        "exp/asr_lm/lm_3gram_asr_scratch_asr_tiny_char.arpa",
        "exp/real_asr_trained_test_sd/hyp/asr.txt",
        f"{decode_dir('test_sd')}/hyp/asr.txt",
        f"{decode_dir('test_sd')}/hyp/asr_lm.txt",
    ),
    8: (
        "exp/real_test_sd/hyp/judge_pocketsphinx.txt",
        f"{EXP}/oracle_test_sd/scores",
        f"{EXP}/oracle_test_sd/hyp/judge_pocketsphinx.txt",
        f"{decode_dir('test_sd')}/scores",
        f"{decode_dir('test_sd')}/hyp/judge_pocketsphinx.txt",
        f"{EXP}/RESULTS.md",
    ),
    9: (f"{EXP}/lipsound2_train_tiny_valid.loss.best.zip",),
}
ALL_STEPS = frozenset((stage, what) for stage, whats in STEPS.items() for what in whats)
Steps = frozenset[tuple[int, str]]


def steps(stage: int, *parts: str) -> Steps:
    """The steps of ``stage`` whose name holds one of ``parts`` (all of them without parts)."""
    return frozenset((stage, w) for w in STEPS[stage] if not parts or any(p in w for p in parts))


# What the real audio made (a change of the generated speech leaves it alone)
REAL_AUDIO_ASR = steps(7, "asr_data/real_", BASE_ASR, "exp/asr_lm/", "real_asr_trained")
REAL_JUDGE = steps(8, "exp/real_test_sd")
# The vocoded ground-truth mel: it depends on the test set's mel and the vocoder only
ORACLE = steps(6, "oracle") | steps(8, "oracle")
# What the generated speech made in stage 7: the fine-tuning on it and its hypotheses
GEN_ASR = steps(7, "gen_", FT_ASR, f"{decode_dir('test_sd')}/hyp")
STAGES_1_TO_9 = ALL_STEPS - steps(0)


# ---------------------------------------------------------------------------------------------
# The edits


@dataclass(frozen=True)
class Edit:
    """One edit a user makes, and what the rerun after it must redo.

    ``apply(recipe, grid_root, source)`` makes the edit. ``redo``: the steps that must run
    again; every other step must say done. ``named``: (stage, step, text) where that step's
    redo lines must name the edit.
    """

    name: str
    apply: Callable[[Path, Path, Path], None]
    redo: Steps
    named: tuple[tuple[int, str, str], ...]


def own_conf(recipe: Path, name: str) -> Path:
    """conf/NAME as a file of the recipe's own: a user copies a linked conf over its link."""
    path = recipe / "conf" / name
    if path.is_symlink():
        text = path.read_text()
        path.unlink()
        path.write_text(text)
    return path


def edit_conf(name: str, old: str, new: str) -> Callable[[Path, Path, Path], None]:
    """An edit of one line of conf/NAME, as a user makes it in an editor (comments kept)."""

    def apply(recipe: Path, grid_root: Path, source: Path) -> None:
        path = own_conf(recipe, name)
        text = path.read_text()
        assert text.count(old) == 1, f"conf/{name} has no single {old!r} (did the TEMPLATE conf change?)"
        path.write_text(text.replace(old, new))

    return apply


def exchange_clip(recipe: Path, grid_root: Path, source: Path) -> None:
    """One clip of the corpus removed and another added, with their alignments. The new one
    is the next clip by name, so the seed-0 split puts it where the old one was (test_sd)."""
    old, new = EXCHANGE
    for sub, ext in (("s1", "mpg"), ("alignments/s1", "align")):
        (grid_root / sub / f"{old}.{ext}").unlink()
        (grid_root / sub / f"{new}.{ext}").symlink_to(source / sub / f"{new}.{ext}")


EDITS = (
    # Stage 1 remakes the face tracks and the audio: everything downstream of them redoes,
    # the ASR trained on the real audio included.
    Edit(
        "frontend crop",
        edit_conf("frontend.yaml", "  margin: 0.0 ", "  margin: 0.1 "),
        STAGES_1_TO_9,
        ((1, "dump/train_sd (tracks, audio)", "frontend: crop.margin: 0.0 -> 0.1"),),
    ),
    # The mel only: stage 1's tracks and audio stay, and so does what the real audio made.
    Edit(
        "frontend mel",
        edit_conf("frontend.yaml", "  f_max: 8000.0", "  f_max: 7600.0"),
        STAGES_1_TO_9 - steps(1) - REAL_AUDIO_ASR - REAL_JUDGE,
        ((2, "dump/train_sd (mel)", "frontend: mel.f_max: 8000.0 -> 7600.0"),),
    ),
    # Another model: its decoded mel and all that was made of it. The data, the real-audio ASR
    # and the oracle (in the experiment dir, but the vocoded ground truth) stay.
    Edit(
        "training config",
        edit_conf("train_tiny.yaml", "  lr: 0.003", "  lr: 0.002"),
        steps(4) | steps(5) | steps(6, "decode_") | GEN_ASR | steps(8) - REAL_JUDGE - ORACLE | steps(9),
        ((4, f"{EXP} (training)", "train: optim_conf.lr: 0.003 -> 0.002"),),
    ),
    # Stage 5 again: the decode dirs and what was made of them, not the oracle.
    Edit(
        "inference config",
        edit_conf("inference.yaml", "max_decode_steps: 1000", "max_decode_steps: 800"),
        steps(5) | steps(6, "decode_") | GEN_ASR | steps(8) - REAL_JUDGE - ORACLE | steps(9),
        ((5, decode_dir("test_sd"), "inference: max_decode_steps: 1000 -> 800"),),
    ),
    # --vocoder_type griffin_lim (the default) reads the griffin_lim section of the vocoder
    # config: every wav is made again, the oracle's too.
    Edit(
        "vocoder config",
        edit_conf("vocoder.yaml", "  n_iter: 32", "  n_iter: 16"),
        steps(6) | GEN_ASR | steps(8) - REAL_JUDGE | steps(9),
        ((6, f"{EXP}/oracle_test_sd (speech)", "vocoder: griffin_lim.n_iter: 32 -> 16"),),
    ),
    # The base ASR trains again, and all that came from it; the ASR data dirs stay, and so do
    # the judges and speech scores (stage 8 reports the new hypotheses).
    Edit(
        "ASR config",
        edit_conf("asr_tiny.yaml", "  lr: 0.002", "  lr: 0.001"),
        steps(7) - steps(7, "(ASR data)") | steps(8, "RESULTS") | steps(9),
        ((7, f"{BASE_ASR} (ASR on real audio)", "asr: optim_conf.lr: 0.002 -> 0.001"),),
    ),
    # The beam search: only the decoding steps.
    Edit(
        "ASR decoding config",
        edit_conf("decode_asr.yaml", "beam_size: 10", "beam_size: 4"),
        steps(7, "hyp/") | steps(8, "RESULTS") | steps(9),
        ((7, f"{decode_dir('test_sd')}/hyp/asr.txt", "decode: beam_size: 10 -> 4"),),
    ),
    # The corpus: the test clip exchanged. Stage 0 prepares the data again; the test set's
    # data and all that was made of them redo, the training and validation sets' do not (nor
    # the training, nor the ASR fine-tuned on their generated speech).
    Edit(
        "corpus clip exchanged",
        exchange_clip,
        steps(0)
        | steps(1, "test_sd")
        | steps(2, "test_sd")
        | steps(5, "test_sd")
        | steps(6, "test_sd")
        | steps(7, "hyp/")
        | steps(8)
        | steps(9),
        (
            (0, "data", "corpus data/test_sd/video.scp"),
            (1, "dump/test_sd (tracks, audio)", "table data/test_sd/video.scp"),
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# The recipe copy and its runs


@dataclass
class Step:
    stage: int
    what: str
    state: str  # done, new, redo or resuming
    lines: list[str] = field(default_factory=list)  # a redo's changes and removed stale outputs


STEP_RE = re.compile(r"Stage (\d+): (.+): (done|new|redo, since|resuming \(.*\))")


def parse_steps(log: str) -> list[Step]:
    """The (step) lines of a run's log."""
    out: list[Step] = []
    for line in log.splitlines():
        _, sep, rest = line.partition(" (step) ")
        if not sep:
            continue
        if rest.startswith("    ") and out:
            out[-1].lines.append(rest.strip())
            continue
        m = STEP_RE.fullmatch(rest)
        assert m, f"not a step line: {line}"
        out.append(Step(int(m[1]), m[2], re.split(r"[ ,]", m[3])[0]))
    return out


def redone(run: list[Step]) -> Steps:
    return frozenset((s.stage, s.what) for s in run if s.state != "done")


def make_grid_root(source: Path, dst: Path) -> None:
    """GRID's release layout (a) under ``dst``: links to every CLIP_STRIDE-th clip of s1."""
    names = sorted(p.stem for p in (source / "s1").glob("*.mpg"))[::CLIP_STRIDE]
    assert EXCHANGE[0] in names and EXCHANGE[1] not in names
    for name in names:
        for sub, ext in (("s1", "mpg"), ("alignments/s1", "align")):
            (dst / sub).mkdir(parents=True, exist_ok=True)
            (dst / sub / f"{name}.{ext}").symlink_to(source / sub / f"{name}.{ext}")


def copy_scripts(root: Path, top: Path) -> None:
    """The stage scripts (egs/TEMPLATE, egs/grid, utils/) of ``root`` copied into a tree shaped
    like the repository (path.sh finds tools/ two levels up), with a link to its tools/."""
    (top / "egs").mkdir(parents=True)
    (top / "tools").symlink_to((root / "tools").resolve())
    shutil.copytree(root / "utils", top / "utils", symlinks=True)
    shutil.copytree(root / "egs" / "TEMPLATE", top / "egs" / "TEMPLATE", symlinks=True)
    # what a user's run left in the checkout's egs/grid stays behind
    ignore = shutil.ignore_patterns(*OUTPUTS)
    shutil.copytree(root / "egs" / "grid", top / "egs" / "grid", symlinks=True, ignore=ignore)


def make_recipe(scripts: Path, top: Path) -> Path:
    """A copy of egs/grid from the copy of the stage scripts, with tiny training configs in
    its conf/."""
    copy_scripts(scripts, top)
    recipe = top / "egs" / "grid"
    conf = scripts / "egs" / "TEMPLATE" / "conf"
    train = dict(max_epoch=1, num_iters_per_epoch=2, batch_size=4, keep_nbest_models=1)
    for name, src, overrides in (
        ("train_tiny.yaml", "train_cpu.yaml", train),
        ("asr_tiny.yaml", "asr_cpu.yaml", dict(max_epoch=1)),
        ("asr_ft_tiny.yaml", "asr_finetune_cpu.yaml", dict(max_epoch=1)),
    ):
        data = yaml.safe_load((conf / src).read_text())
        data.update(NO_PLOTS, **overrides)
        (recipe / "conf" / name).write_text(yaml.safe_dump(data))
    # Face tracks as raw arrays (ark), not H.264 mp4: the same crops encoded in two stage-1
    # runs give different mp4 bitstreams (libx264's output depends on what the process encoded
    # before), which would make every comparison with the clean run after stage 1 inexact.
    edit_conf("frontend.yaml", "  format: mp4 ", "  format: ark ")(recipe, top, top)
    return recipe


def start_recipe(recipe: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``./run.sh`` stages 0-9 in the background, its output into ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen(
            ["./run.sh", *OPTS, "--stage", "0", "--stop_stage", "9"],
            cwd=recipe,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended with it on a timeout
        )


def finish(proc: subprocess.Popen, log: Path) -> tuple[int, str]:
    """Wait for a run: its exit status and log."""
    try:
        rc = proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        rc = -1
    return rc, log.read_text()


def run_recipe(recipe: Path, env: dict[str, str], log: Path) -> tuple[int, str]:
    return finish(start_recipe(recipe, env, log), log)


def snapshot(recipe: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file the stages wrote (markers included)."""
    out = {}
    for top in OUTPUTS:
        for path in (recipe / top).rglob("*"):
            if path.is_file() and not path.is_symlink():
                st = path.stat()
                out[str(path.relative_to(recipe))] = (st.st_size, st.st_mtime_ns)
    return out


# ---------------------------------------------------------------------------------------------
# Fixtures: the first run, the rerun with nothing edited, the edits, the clean run


@dataclass
class Work:
    top: Path
    recipe: Path
    grid_root: Path
    source: Path
    env: dict[str, str]
    first: list[Step]


def _env(grid_root: Path) -> dict[str, str]:
    return {**os.environ, "GRID": str(grid_root), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def scripts(tmp_path_factory, root) -> Path:
    """The stage scripts, copied once: the incremental and the clean runs run the same ones,
    and the same all through (bash reads a script as it runs it; the checkout may be edited
    meanwhile)."""
    top = tmp_path_factory.mktemp("scripts")
    copy_scripts(root, top)
    return top


@pytest.fixture(scope="module")
def work(tmp_path_factory, scripts, grid_s1) -> Work:
    top = tmp_path_factory.mktemp("rerun")
    make_grid_root(grid_s1, top / "grid root")
    recipe = make_recipe(scripts, top / "lip root")
    env = _env(top / "grid root")
    rc, log = run_recipe(recipe, env, top / "logs" / "first.log")
    assert rc == 0, log[-8000:]
    test_sd = read_table(recipe / "data" / "test_sd" / "text")
    assert list(test_sd) == [f"s1-{EXCHANGE[0]}"], "the split moved the clip to exchange out of test_sd"
    return Work(top, recipe, top / "grid root", grid_s1, env, parse_steps(log))


@pytest.fixture(scope="module")
def unchanged(work):
    """The rerun with nothing edited: its steps, and the outputs before and after it."""
    before = snapshot(work.recipe)
    base_model = (work.recipe / FT_ASR / "base_model").read_text()
    rc, log = run_recipe(work.recipe, work.env, work.top / "logs" / "unchanged.log")
    assert rc == 0, log[-8000:]
    return parse_steps(log), before, snapshot(work.recipe), base_model


@pytest.fixture(scope="module")
def clean_started(tmp_path_factory, scripts, grid_s1):
    """The clean run: a fresh copy with every edit of EDITS made before its first run, stages
    0-9, started in the background (its recipe dir, process and log)."""
    top = tmp_path_factory.mktemp("clean")
    make_grid_root(grid_s1, top / "grid root")
    recipe = make_recipe(scripts, top / "lip root")
    for edit in EDITS:
        edit.apply(recipe, top / "grid root", grid_s1)
    log = top / "logs" / "clean.log"
    proc = start_recipe(recipe, _env(top / "grid root"), log)
    yield recipe, proc, log
    if proc.poll() is None:  # the tests that wait for it were not run
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


@pytest.fixture(scope="module")
def edited(work, unchanged, clean_started) -> dict[str, tuple[int, str]]:
    """The edits of EDITS, one after another in the recipe copy, each followed by a rerun of
    stages 0-9: the exit status and log of each rerun, up to the first that failed."""
    out: dict[str, tuple[int, str]] = {}
    for k, edit in enumerate(EDITS, 1):
        edit.apply(work.recipe, work.grid_root, work.source)
        out[edit.name] = run_recipe(work.recipe, work.env, work.top / "logs" / f"edit{k}.log")
        if out[edit.name][0] != 0:
            break
    return out


@pytest.fixture(scope="module")
def clean(edited, clean_started) -> Path:
    recipe, proc, log = clean_started
    rc, text = finish(proc, log)
    assert rc == 0, text[-8000:]
    assert {s.state for s in parse_steps(text)} == {"new"}
    failed = [name for name, (rc, _) in edited.items() if rc != 0]
    assert len(edited) == len(EDITS) and not failed, f"the rerun after {failed} failed"
    return recipe


# ---------------------------------------------------------------------------------------------
# The step lines


def test_first_run_makes_every_step(work):
    assert [s.state for s in work.first] == ["new"] * len(work.first)
    assert frozenset((s.stage, s.what) for s in work.first) == ALL_STEPS
    assert len(work.first) == len(ALL_STEPS)  # each step once


def test_rerun_with_nothing_edited_runs_no_step(work, unchanged):
    rerun, before, after, base_model = unchanged
    assert [(s.stage, s.what) for s in rerun] == [(s.stage, s.what) for s in work.first]
    assert [s for s in rerun if s.state != "done"] == []
    # No step wrote anything: no training or decoding log anew, no marker. run.sh appends its
    # arguments to exp/run_args.log.
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed <= {"exp/run_args.log"}, sorted(changed)
    assert (work.recipe / FT_ASR / "base_model").read_text() == base_model


def _edit_run(edited: dict[str, tuple[int, str]], edit: Edit) -> list[Step]:
    if edit.name not in edited:
        pytest.fail(f"not run: the rerun after {list(edited)[-1]!r} failed")
    rc, log = edited[edit.name]
    assert rc == 0, log[-8000:]
    run = parse_steps(log)
    assert frozenset((s.stage, s.what) for s in run) == ALL_STEPS  # every step logged, once
    assert len(run) == len(ALL_STEPS)
    assert not [s for s in run if s.state == "resuming"]
    return run


@pytest.mark.parametrize("edit", EDITS, ids=[e.name for e in EDITS])
def test_rerun_after_edit_redoes_what_it_reaches(edited, edit):
    run = _edit_run(edited, edit)
    got, want = redone(run), edit.redo
    assert {st for st, _ in got} == {st for st, _ in want}, "the stages that redid"
    assert sorted(got - want) == [], "steps that redid and should not have"
    assert sorted(want - got) == [], "steps that should have redone"
    by_step = {(s.stage, s.what): s for s in run}
    for stage, what, text in edit.named:
        step = by_step[(stage, what)]
        assert step.state == "redo" and any(text in line for line in step.lines), (step.state, step.lines)


# ---------------------------------------------------------------------------------------------
# The incremental runs end where the clean run ends. On a CPU with OMP_NUM_THREADS=1 and the
# same seed every output below is bit-identical (face tracks stored as arrays, see
# make_recipe), so the comparisons are exact: a difference is a stale input of some step.


def _table(recipe: Path, rel: str) -> dict[str, str]:
    return {k: v if os.path.isabs(v) else str(recipe / v) for k, v in read_table(recipe / rel).items()}


def _same_arrays(a: Path, b: Path, rel: str, load: Callable[[str], np.ndarray]) -> None:
    ta, tb = _table(a, rel), _table(b, rel)
    assert ta.keys() == tb.keys(), rel
    for utt in ta:
        x, y = load(ta[utt]), load(tb[utt])
        assert x.shape == y.shape and x.dtype == y.dtype, (rel, utt)
        assert np.array_equal(x, y), (rel, utt, np.abs(x.astype(float) - y.astype(float)).max())


def _wav(path: str) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(path) as w:
        return (w.getframerate(), w.getnchannels(), w.getsampwidth()), w.readframes(w.getnframes())


def _same_wavs(a: Path, b: Path, rel: str) -> None:
    ta, tb = _table(a, rel), _table(b, rel)
    assert ta.keys() == tb.keys(), rel
    for utt in ta:
        assert _wav(ta[utt]) == _wav(tb[utt]), (rel, utt)


def _same_state(a: Path, b: Path) -> None:
    x = torch.load(a, map_location="cpu", weights_only=True)
    y = torch.load(b, map_location="cpu", weights_only=True)
    assert x.keys() == y.keys(), a
    same = {k: torch.equal(x[k], y[k]) if isinstance(x[k], torch.Tensor) else x[k] == y[k] for k in x}
    assert [k for k, ok in same.items() if not ok] == [], a


def test_incremental_data_equal_the_clean_run(work, clean):
    for dset in SETS:
        for name in ("text", "utt2spk"):
            assert read_table(work.recipe / "data" / dset / name) == read_table(clean / "data" / dset / name)
        dump = f"dump/{dset}"
        for name in ("utt2num_vframes", "utt2num_frames", "text"):
            assert read_table(work.recipe / dump / name) == read_table(clean / dump / name)
        _same_arrays(work.recipe, clean, f"{dump}/video.scp", read_face_track)
        _same_wavs(work.recipe, clean, f"{dump}/wav.scp")
        _same_arrays(work.recipe, clean, f"{dump}/feats.scp", load_array)
    assert list(read_table(work.recipe / "dump" / "test_sd" / "video.scp")) == [f"s1-{EXCHANGE[1]}"]


def test_incremental_model_and_speech_equal_the_clean_run(work, clean):
    _same_state(work.recipe / EXP / "valid.loss.best.pth", clean / EXP / "valid.loss.best.pth")
    for dset in SETS:
        _same_arrays(work.recipe, clean, f"{decode_dir(dset)}/feats.scp", load_array)
        _same_wavs(work.recipe, clean, f"{decode_dir(dset)}/wav.scp")
    _same_wavs(work.recipe, clean, f"{EXP}/oracle_test_sd/wav.scp")


def test_incremental_asr_and_scores_equal_the_clean_run(work, clean):
    for exp in (BASE_ASR, FT_ASR):
        _same_state(work.recipe / exp / "valid.acc.ave.pth", clean / exp / "valid.acc.ave.pth")
    texts = [
        "exp/asr_lm/lm_3gram_asr_scratch_asr_tiny_char.arpa",
        "exp/real_asr_trained_test_sd/hyp/asr.txt",
        "exp/real_test_sd/hyp/judge_pocketsphinx.txt",
        f"{EXP}/oracle_test_sd/hyp/judge_pocketsphinx.txt",
        f"{EXP}/oracle_test_sd/scores/speech.tsv",
        *(f"{decode_dir('test_sd')}/hyp/{name}.txt" for name in ("asr", "asr_lm", "judge_pocketsphinx")),
        f"{decode_dir('test_sd')}/scores/speech.tsv",
    ]
    for rel in texts:
        assert (work.recipe / rel).read_text() == (clean / rel).read_text(), rel

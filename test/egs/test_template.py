"""The shared stage script's option handling, and the installer's no-op second run."""

import os
import re
import shlex
import subprocess
import sys

import pytest

from lipsound2_testing.recipe_dir import SCRIPTS


def _run(recipe, *args):
    return subprocess.run(["./lipsound2.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=120)


def test_help_lists_the_stages_and_options(recipe):
    res = _run(recipe, "--help")
    assert res.returncode == 0
    for word in ("--stop_stage", "--train_config", "--vocoder_type", "--asr_config", "8 scoring"):
        assert word in res.stderr


def test_unknown_option_fails_and_names_it(recipe):
    res = _run(recipe, "--no_such_option", "1")
    assert res.returncode != 0
    assert "unknown option '--no_such_option'" in res.stderr


@pytest.mark.parametrize("script", ["lipsound2.sh", "lipreading.sh"])
@pytest.mark.parametrize("name", ["PATH", "HOME", "run_args", "help_message", "declared_options"])
def test_variables_that_are_no_options_are_refused(recipe, script, name):
    """The environment's variables and the script's own are set, but are no options: --PATH
    would break every program the script starts, --run_args would forge its log."""
    res = subprocess.run(
        [f"./{script}", f"--{name}", "x"], cwd=recipe, capture_output=True, text=True, timeout=60
    )
    assert res.returncode != 0
    assert f"unknown option '--{name}'" in res.stderr


def test_an_empty_stage_range_runs_nothing_and_says_so(recipe):
    """Kaldi's habit, kept: the options are resolved and checked, no stage runs."""
    res = _run(recipe, "--stage", "5", "--stop_stage", "4")
    assert res.returncode == 0, res.stderr
    assert "--stage 5 comes after --stop_stage 4: no stage runs" in res.stderr
    assert "Stage " not in res.stderr


def test_boolean_option_rejects_other_values(recipe):
    res = _run(recipe, "--skip_pretrain", "yes")
    assert res.returncode != 0
    assert "true or false" in res.stderr


def test_help_lists_every_option(recipe, root):
    script = (root / "egs" / "TEMPLATE" / "lipsound2.sh").read_text()
    options = script.split("# General options")[1].split("help_message=")[0]
    # and those it shares with lipreading.sh, declared once
    options += (root / "egs" / "TEMPLATE" / "stage_options.sh").read_text()
    names = re.findall(r"^([a-z][a-z0-9_]*)=", options, flags=re.M)
    assert len(names) > 60
    res = _run(recipe, "--help")
    listed = set(re.findall(r"--([a-z0-9_]+)", res.stderr))
    assert not set(names) - listed, f"options missing from --help: {sorted(set(names) - listed)}"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ("--vocoder_type waveglow --stage 6 --stop_stage 6 --test_sets t", "--vocoder_type"),
        ("--feats_normalize minmax --stage 9", "--feats_normalize"),
        ("--lang fr --stage 9", "--lang"),
        ("--asr_token_type phn --stage 9", "--asr_token_type"),
        ("--nj 0 --stage 9", "--nj"),
        ("--protocol 's d' --stage 9", "--protocol"),
        ("--stage 4 --stop_stage 4", "--train_set"),
        ("--stage 8 --stop_stage 8", "--test_sets"),
        ("--stage 3 --stop_stage 3 --pretrain_train_set p", "--pretrain_valid_set"),
        ("--protocol sd --stage 4 --stop_stage 4 --pretrain_model no.pth", "--pretrain_model"),
        ("--unit_type bert --stage 9", "--unit_type"),
        ("--unit_k 1 --stage 9", "--unit_k"),
        ("--unit_type hubert --stage 2 --stop_stage 2 --train_set t", "--unit_encoder_file"),
        ("--unit_type wav2vec2 --stage 2 --stop_stage 2 --train_set t --unit_encoder_file no.pt", "no.pt"),
        ("--unit_type mfcc --stage 2 --stop_stage 2 --test_sets t", "--train_set"),
        ("--unit_layer 0 --stage 9", "--unit_layer"),
        # CTranslate2 gives only Whisper's last encoder layer
        ("--unit_type whisper --stage 2 --stop_stage 2 --train_set t --unit_layer 3", "last layer only"),
        ("--unit_type whisper --stage 2 --stop_stage 2 --train_set t --unit_encoder_file no_dir", "no_dir"),
        ("--vocoder_type hifigan_units --stage 6 --stop_stage 6 --test_sets t", "--train_set"),
        ("--vocoder_type hifigan_units --stage 6 --stop_stage 6 --vocoder_file no.pth", "no.pth"),
        # a file the vocoder would ignore: refused, not silently dropped
        ("--vocoder_type hifigan_pretrained --stage 6 --stop_stage 6 --vocoder_file v.pth", "--vocoder_file"),
        ("--asr_config '' --stage 9", "--asr_config"),
        ("--asr_lr_factor abc --stage 9", "--asr_lr_factor"),
        ("--asr_lr_factor 0e5 --stage 9", "--asr_lr_factor"),
        ("--stage 10", "--stage 10"),
        ("--audio_pretrain true --stage 3 --stop_stage 3", "--audio_pretrain_train_set"),
        (
            "--audio_pretrain true --stage 3 --stop_stage 3 --audio_pretrain_train_set a "
            "--audio_pretrain_valid_set b",
            "--audio_pretrain_config",
        ),
        ("--stage 4 --stop_stage 4 --train_set t --valid_set v --init_decoder_from no.pth", "no.pth"),
        ("--audio_pretrain yes --stage 9", "true or false"),
    ],
)
def test_bad_options_fail_before_any_stage_runs(recipe, args, named):
    res = _run(recipe, *shlex.split(args))
    assert res.returncode != 0
    assert named in res.stderr.splitlines()[-1]
    # the line names where the script checks it, not the shared helper that reports it
    assert "(stage_lib.sh:" not in res.stderr.splitlines()[-1]
    assert "Stage " not in res.stderr
    assert not (recipe / "exp").exists()


def test_a_recipe_copied_without_links_runs(recipe, tmp_path):
    """A user copies a recipe with cp -rL: the scripts it sources come with it."""
    copy = tmp_path / "my copy"
    subprocess.run(["cp", "-rL", str(recipe), str(copy)], check=True)
    for script in ("./lipsound2.sh", "./lipreading.sh"):
        res = subprocess.run([script, "--help"], cwd=copy, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "--asr_config" in res.stderr


def test_stage6_never_trains_over_the_vocoder_file_a_user_brings(recipe):
    """--vocoder_file at the path stage 6 would train to, with a marker of another key there:
    the file is used as given, not removed as stale and trained again."""
    vocoder = recipe / "exp" / "vocoder_vocoder" / "vocoder.pth"
    vocoder.parent.mkdir(parents=True)
    vocoder.write_text("the user's own")
    mark = [sys.executable, "-m", "lipsound2.bin.step", "mark", "--dir", str(vocoder.parent)]
    subprocess.run([*mark, "--name", "train", "--opt", "other=1"], cwd=recipe, check=True)
    args = "--stage 6 --stop_stage 6 --vocoder_type hifigan --vocoder_file exp/vocoder_vocoder/vocoder.pth"
    res = _run(recipe, *args.split(), "--train_set", "tr", "--test_sets", "t", "--vocode_oracle", "false")
    assert res.returncode == 0, res.stderr
    assert vocoder.read_text() == "the user's own"
    assert "Training the vocoder" not in res.stderr


def test_every_recipe_links_the_stage_scripts(root):
    recipes = [d for d in (root / "egs").iterdir() if (d / "run.sh").is_file()]
    assert len(recipes) >= 5
    for recipe in recipes:
        for name in SCRIPTS:
            assert (recipe / name).is_symlink(), f"{recipe.name}/{name}"
            assert (recipe / name).resolve() == (root / "egs" / "TEMPLATE" / name).resolve()
        # what the stage scripts source from the recipe dir (log, done markers)
        assert (recipe / "utils").resolve() == (root / "utils").resolve(), recipe.name
        assert (recipe / "utils" / "stage_lib.sh").is_file()


def test_lipreading_needs_the_inference_tag_of_the_decode_dirs(recipe):
    """Stage 7 reads decode_<set>_<inference tag>: lipsound2.sh always passes the tag it decoded with."""
    args = ["--python", "python3", "--seed", "1", "--ngpu", "0", "--inference_nj", "1", "--dumpdir", "dump",
            "--expdir", "exp", "--train_exp", "exp/lipsound2_train"]  # fmt: skip
    res = subprocess.run(["./lipreading.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "--inference_tag is required" in res.stderr.splitlines()[-1]
    assert not (recipe / "exp").exists()


@pytest.mark.skipif(not os.access("/usr/bin/dpkg-query", os.X_OK), reason="needs Debian's dpkg")
def test_installer_second_run_is_a_no_op(root):
    res = subprocess.run([str(root / "tools" / "install.sh")], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(root / "tools" / "install.sh")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    assert "environment up to date" in res.stderr
    assert "installing" not in res.stderr

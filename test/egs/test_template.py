"""The shared stage script's option handling, and the installer's no-op second run."""

import os
import subprocess

import pytest


def _recipe(tmp_path, root):
    """A throw-away recipe directory wired like egs/<corpus>/, under a path with a space."""
    recipe = tmp_path / "my recipe"
    recipe.mkdir()
    for name in ("lipsound2.sh", "path.sh", "cmd.sh", "db.sh"):
        (recipe / name).symlink_to(root / "egs" / "TEMPLATE" / name)
    (recipe / "utils").symlink_to(root / "utils")
    return recipe


def _run(recipe, *args):
    return subprocess.run(["./lipsound2.sh", *args], cwd=recipe, capture_output=True, text=True, timeout=120)


def test_help_lists_the_stages_and_options(tmp_path, root):
    res = _run(_recipe(tmp_path, root), "--help")
    assert res.returncode == 0
    for word in ("--stop_stage", "--train_config", "--vocoder_type", "--asr_config", "8 scoring"):
        assert word in res.stderr


def test_unknown_option_fails_and_names_it(tmp_path, root):
    res = _run(_recipe(tmp_path, root), "--no_such_option", "1")
    assert res.returncode != 0
    assert "unknown option '--no_such_option'" in res.stderr


def test_boolean_option_rejects_other_values(tmp_path, root):
    res = _run(_recipe(tmp_path, root), "--skip_pretrain", "yes")
    assert res.returncode != 0
    assert "true or false" in res.stderr


@pytest.mark.skipif(not os.access("/usr/bin/dpkg-query", os.X_OK), reason="needs Debian's dpkg")
def test_installer_second_run_is_a_no_op(root):
    res = subprocess.run([str(root / "tools" / "install.sh")], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(root / "tools" / "install.sh")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    assert "environment up to date" in res.stderr
    assert "installing" not in res.stderr

"""utils/parse_options.sh: --foo-bar sets foo_bar, checks, --config, --help."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def demo(tmp_path: Path, utils_dir: Path):
    script = tmp_path / "demo.sh"
    script.write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        "foo_bar=1\nuse_gpu=false\nname='a b'\n"
        'help_message="Usage: demo.sh [--foo-bar N] [--use-gpu true|false] ARGS"\n'
        f". '{utils_dir}/parse_options.sh'\n"
        'echo "foo_bar=${foo_bar} use_gpu=${use_gpu} name=${name} rest=$*"\n'
    )
    script.chmod(0o755)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=tmp_path)

    return run


def test_sets_existing_variables_and_keeps_the_rest(demo):
    out = demo("--foo-bar", "7", "--use_gpu", "true", "--name=x y", "pos1", "--not-parsed")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "foo_bar=7 use_gpu=true name=x y rest=pos1 --not-parsed"


def test_unknown_option_fails_naming_it(demo):
    out = demo("--fo-bar", "7")
    assert out.returncode != 0
    assert "unknown option '--fo-bar'" in out.stderr
    assert out.stdout == ""


def test_boolean_accepts_only_true_or_false(demo):
    out = demo("--use-gpu", "yes")
    assert out.returncode != 0
    assert "true or false" in out.stderr and "'yes'" in out.stderr


def test_option_without_value_fails(demo):
    out = demo("--foo-bar")
    assert out.returncode != 0
    assert "needs a value" in out.stderr


def test_config_file_is_sourced_and_later_options_win(demo, tmp_path):
    (tmp_path / "my conf.sh").write_text("foo_bar=from_config\nname=cfg\n")
    out = demo("--config", str(tmp_path / "my conf.sh"), "--name", "cli")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "foo_bar=from_config use_gpu=false name=cli rest="


def test_missing_config_fails(demo, tmp_path):
    out = demo("--config", str(tmp_path / "nope.sh"))
    assert out.returncode != 0
    assert "nope.sh" in out.stderr


def test_help_prints_the_callers_help_message(demo):
    out = demo("--help", "--foo-bar", "2")
    assert out.returncode == 0
    assert "Usage: demo.sh [--foo-bar N]" in out.stderr
    assert "foo_bar=" not in out.stdout

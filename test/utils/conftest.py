"""Helpers for driving the shell tools in utils/ from pytest."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[2] / "utils"
STANDINS = Path(__file__).resolve().parent / "standins"

RunTool = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def utils_dir() -> Path:
    """The utils/ folder of this checkout."""
    return UTILS


@pytest.fixture
def tool() -> RunTool:
    """Runs ``utils/NAME args...``; returns the completed process (text mode, not checked)."""

    def run(name: str, *args: object, cwd: Path | None = None, env: dict | None = None, stdin: str = ""):
        full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
        return subprocess.run(
            [str(UTILS / name), *map(str, args)],
            cwd=cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def standin_env(tmp_path: Path) -> dict:
    """Environment with the stand-in sbatch/srun/ssh first on PATH, recording into a file."""
    return {
        "PATH": f"{STANDINS}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_RECORD": str(tmp_path / "standin_record"),
    }


def _write_table(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{row}\n" for row in rows))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A valid data dir under a path with spaces: 3 speakers (3, 2, 4 utterances), scp values
    with spaces, video.scp, text, utt2num_frames, utt2num_vframes, spk2gender."""
    data = tmp_path / "my data" / "train set"
    utts = [(f"s{s}_u{u}", f"s{s}") for s, count in ((1, 3), (2, 2), (3, 4)) for u in range(1, count + 1)]
    _write_table(data / "utt2spk", [f"{utt} {spk}" for utt, spk in utts])
    _write_table(data / "wav.scp", [f"{utt} /corpus/with space/{utt}.wav" for utt, _ in utts])
    _write_table(data / "video.scp", [f"{utt} ffmpeg -i '/v d/{utt}.mpg' -f rawvideo - |" for utt, _ in utts])
    _write_table(data / "text", [f"{utt} place blue at {i} now" for i, (utt, _) in enumerate(utts)])
    _write_table(data / "utt2num_frames", [f"{utt} {100 + i}" for i, (utt, _) in enumerate(utts)])
    _write_table(data / "utt2num_vframes", [f"{utt} {40 + i}" for i, (utt, _) in enumerate(utts)])
    _write_table(data / "spk2gender", ["s1 m", "s2 f", "s3 m"])
    spk2utt = {}
    for utt, spk in utts:
        spk2utt.setdefault(spk, []).append(utt)
    _write_table(data / "spk2utt", [f"{spk} {' '.join(us)}" for spk, us in sorted(spk2utt.items())])
    return data

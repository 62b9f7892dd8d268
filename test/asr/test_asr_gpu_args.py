"""``--ngpu`` reaches the job runner (``--gpu N``) and ESPnet's ASR binaries.

The job runner is the recipe's pluggable part (run.pl, slurm.pl, ...): here one that records
the command it is given, as a machine without a GPU cannot run the jobs themselves.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from lipsound2.bin.asr_cascade import main
from lipsound2.fileio.table import write_table


@pytest.fixture
def recorder(tmp_path) -> tuple[str, Path]:
    """A job runner that writes its arguments to a file and succeeds."""
    record = tmp_path / "argv.txt"
    script = tmp_path / "record.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {shlex.quote(str(record))}\n')
    script.chmod(0o755)
    return str(script), record


def _data(d: Path) -> Path:
    write_table(d / "wav.scp", {"u1": "/a/u1.wav"})
    write_table(d / "speech_shape", {"u1": "16000"})
    write_table(d / "text", {"u1": "ab"})
    return d


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_training_asks_for_the_gpus(tmp_path, recorder):
    cmd, record = recorder
    (tmp_path / "tokens.txt").write_text("<blank>\n<unk>\na\nb\n<sos/eos>\n")
    data = _data(tmp_path / "data")
    with pytest.raises(FileNotFoundError):  # the recorder trains nothing
        main(["train", "--config", "c.yaml", "--train_dir", str(data), "--valid_dir", str(data),
              "--outdir", str(tmp_path / "exp"), "--token_list", str(tmp_path / "tokens.txt"),
              "--cmd", cmd, "--ngpu", "2"])  # fmt: skip
    argv = record.read_text().splitlines()
    assert argv[:2] == ["--gpu", "2"]
    assert "espnet2.bin.asr_train" in argv
    assert _option(argv, "--ngpu") == "2" and _option(argv, "--multiprocessing_distributed") == "true"


def _decode(tmp_path, cmd: str, *extra: str) -> None:
    """Stage 7's decode subcommand on an empty model dir, through the recording job runner."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "valid.acc.ave.pth").write_bytes(b"")
    (tmp_path / "model" / "config.yaml").write_text("{}\n")
    data = _data(tmp_path / "data")
    main(["decode", "--asr_model", str(tmp_path / "model"), "--wav_scp", str(data / "wav.scp"),
          "--outdir", str(tmp_path / "dec"), "--cmd", cmd, *extra])  # fmt: skip


def test_decoding_jobs_use_one_gpu_each(tmp_path, recorder):
    cmd, record = recorder
    _decode(tmp_path, cmd, "--ngpu", "4")
    argv = record.read_text().splitlines()
    assert argv[:3] == ["--gpu", "1", "JOB=1:1"]
    assert "espnet2.bin.asr_inference" in argv and _option(argv, "--ngpu") == "1"


def test_no_gpu_by_default(tmp_path, recorder):
    cmd, record = recorder
    _decode(tmp_path, cmd)
    argv = record.read_text().splitlines()
    assert "--gpu" not in argv[:3] and _option(argv, "--ngpu") == "0"

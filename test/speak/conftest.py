"""Fixtures of the command's tests: a tiny untrained model, packed as a user gets it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lipsound2.bin import pack as pack_cmd
from lipsound2_testing.tiny_lipsound2 import write_experiment


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    """An untrained tiny model with the template's front end and Griffin-Lim, decoding a fixed
    2.5 mel frames per video frame (an untrained model never finds the visual period)."""
    work = tmp_path_factory.mktemp("tiny pack")
    exp = write_experiment(work / "exp")
    inference = work / "inference.yaml"
    inference.write_text(yaml.safe_dump({"stop_mode": "known_length", "batch_size": 4}))
    pack = work / "tiny model.zip"
    conf = root / "egs" / "TEMPLATE" / "conf"
    rc = pack_cmd.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--frontend_config", str(conf / "frontend.yaml"), "--inference_config", str(inference),
         "--vocoder_type", "griffin_lim", "--vocoder_config", str(conf / "vocoder_hifigan_cpu.yaml"),
         "--outpath", str(pack)]
    )  # fmt: skip
    assert rc == 0 and pack.is_file()
    return pack

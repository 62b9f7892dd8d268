"""Stage 6 with --vocoder_type hifigan_units through the stage script: it trains the mel + units
HiFi-GAN on the training set's audio and units, and vocodes a decode dir and the oracle with the
units beside their feats.scp; without units it stops and says where they come from."""

from __future__ import annotations

import subprocess
from pathlib import Path

import torch
import yaml
from test_stage2_units import _stage2_output

from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav

TINY = {
    "generator_params": {
        "channels": 16,
        "upsample_scales": [8, 8, 2, 2],
        "upsample_kernel_sizes": [16, 16, 4, 4],
        "resblock_kernel_sizes": [3],
        "resblock_dilations": [[1]],
    },
    "discriminator_params": {"scales": 1, "periods": [2]},
    "units": {"dim": 8},
    "augment": {"blur_time": 1.0, "blur_freq": 1.0, "noise_std": 0.2},
    "train": {
        "steps": 2,
        "batch_size": 2,
        "segment_frames": 16,
        "log_interval": 1,
        "discriminator_start_step": 2,
    },
}


def _run(recipe: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["./lipsound2.sh", "--train_set", "train", "--valid_set", "train", "--test_sets", "test"]
    cmd += [
        "--frontend_config",
        str(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"),
        "--inference_nj",
        "2",
    ]
    return subprocess.run([*cmd, *args], cwd=recipe, capture_output=True, text=True, timeout=300)


def test_stage6_trains_and_vocodes_with_units(recipe, root, mel_data_dir):
    dump = recipe / "dump"
    _stage2_output(mel_data_dir, dump / "train", 3, 0)
    _stage2_output(mel_data_dir, dump / "test", 2, 1)
    (recipe / "conf").mkdir()
    (recipe / "conf" / "tiny units.yaml").write_text(yaml.safe_dump(TINY))
    stage6 = ["--stage", "6", "--stop_stage", "6", "--vocoder_type", "hifigan_units"]
    stage6 += ["--vocoder_config", "conf/tiny units.yaml"]

    res = _run(recipe, root, *stage6)  # no units yet
    assert res.returncode != 0
    assert (
        "dump/train/units.scp" in res.stderr.splitlines()[-1] and "--unit_type" in res.stderr.splitlines()[-1]
    )
    assert not (recipe / "exp" / "vocoder_units_tiny units" / "vocoder.pth").exists()

    res = _run(recipe, root, "--stage", "2", "--stop_stage", "2", "--unit_type", "logmel", "--unit_k", "4")
    assert res.returncode == 0, res.stderr[-3000:]
    # a decode dir as a model with a unit head leaves it: feats.scp and units.scp side by side
    decode = recipe / "exp" / "lipsound2_train" / "decode_test"
    for name in ("feats.scp", "units.scp"):
        write_table(decode / name, read_table(dump / "test" / name))

    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    state = torch.load(recipe / "exp" / "vocoder_units_tiny units" / "vocoder.pth", weights_only=True)
    assert state["units"] == {"k": 4, "dim": 8} and state["steps"] == 2
    frames = {k: int(v) for k, v in read_table(dump / "test" / "utt2num_frames").items()}
    for out in (decode, recipe / "exp" / "lipsound2_train" / "oracle_test"):
        wavs = read_table(out / "wav.scp")
        assert set(wavs) == set(frames)
        assert all(len(read_wav(recipe / wavs[k], 16000)) == (frames[k] - 1) * 256 for k in frames)

    res = _run(recipe, root, *stage6)  # done: neither trained nor vocoded again
    assert (
        res.returncode == 0 and "Training HiFi-GAN" not in res.stderr and "is vocoded; skipping" in res.stderr
    )

    (decode / "units.scp").unlink()
    (decode / ".done.vocode_hifigan_units").unlink()
    res = _run(recipe, root, *stage6)
    assert res.returncode != 0 and "decode_test/units.scp" in res.stderr.splitlines()[-1]

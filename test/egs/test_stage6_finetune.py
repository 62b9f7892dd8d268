"""Stage 6 with --vocoder_finetune true through the stage script: the trained model's
teacher-forced (GTA) mel of the training set, behind its done marker; the pre-trained HiFi-GAN
fine-tuned on the ground truth then on that mel; and vocoding with the fine-tuned generator.
A new model file makes the GTA mel and the fine-tuning again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
import yaml

from lipsound2.fileio.ark import ArkWriter, read_scp
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav
from lipsound2.vocoders.hifigan_pretrained import V1_PARAMS
from lipsound2_testing.recipe_dir import INFERENCE_TAG, tone_set
from lipsound2_testing.tiny_hifigan import TINY_D
from lipsound2_testing.tiny_lipsound2 import MEL_PER_FRAME, write_experiment

FINETUNE = {
    "generator_params": {k: v for k, v in V1_PARAMS.items() if k not in ("in_channels", "out_channels")},
    "discriminator_params": TINY_D,
    "train": {
        "init_pretrained": True,
        "steps": 1,
        "gta_steps": 1,
        "batch_size": 1,
        "segment_frames": 8,
        "log_interval": 1,
        "discriminator_start_step": 100,
    },
}


def _run(recipe: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["./lipsound2.sh", "--train_set", "train", "--valid_set", "train", "--test_sets", "test"]
    cmd += ["--frontend_config", str(root / "egs" / "TEMPLATE" / "conf" / "frontend.yaml")]
    cmd += ["--inference_nj", "2", "--vocode_oracle", "false"]
    return subprocess.run([*cmd, *args], cwd=recipe, capture_output=True, text=True, timeout=300)


def _face_tracks(data: Path) -> None:
    """``data/video.scp``: a plain face track for each utterance, as long as its mel allows."""
    frames = {k: int(v) for k, v in read_table(data / "utt2num_frames").items()}
    with ArkWriter(data / "video.ark", data / "video.scp") as writer:
        for key, n in frames.items():
            writer[key] = np.full((int(np.ceil(n / MEL_PER_FRAME)), 112, 112), 100, dtype=np.uint8)


def test_stage6_fine_tunes_the_pretrained_vocoder_on_the_models_gta_mel(recipe, root):
    dump = recipe / "dump"
    tone_set(dump / "train", 3, 0)
    tone_set(dump / "test", 1, 1)
    res = _run(recipe, root, "--stage", "2", "--stop_stage", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    _face_tracks(dump / "train")
    exp = write_experiment(recipe / "exp" / "lipsound2_train")
    shutil.copy(exp / "model.pth", exp / "valid.loss.best.pth")
    shutil.copy(dump / "train" / "frontend.yaml", exp / "frontend.yaml")
    decode = exp / f"decode_test_{INFERENCE_TAG}"  # as stage 5 leaves it (here the set's own mel)
    write_table(decode / "feats.scp", read_table(dump / "test" / "feats.scp"))
    shutil.copy(dump / "test" / "frontend.yaml", decode / "frontend.yaml")
    (recipe / "conf").mkdir()
    (recipe / "conf" / "finetune.yaml").write_text(yaml.safe_dump(FINETUNE))
    stage6 = ["--stage", "6", "--stop_stage", "6", "--vocoder_type", "hifigan"]
    stage6 += ["--vocoder_config", "conf/finetune.yaml", "--vocoder_finetune", "true"]

    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    gta = read_scp(exp / "gta_train_valid.loss.best" / "feats.scp")
    truth = read_scp(dump / "train" / "feats.scp")
    assert sorted(gta) == sorted(truth) and all(gta[k].shape == truth[k].shape for k in truth)
    vocoder = exp / "vocoder_finetune_finetune"
    log = [line.split("\t") for line in (vocoder / "train_log.tsv").read_text().splitlines()[1:]]
    assert [(row[0], row[-1]) for row in log] == [("1", "ground_truth"), ("2", "gta")]
    assert torch.load(vocoder / "vocoder.pth", weights_only=True)["steps"] == 2
    wavs = read_table(decode / "wav.scp")
    frames = {k: int(v) for k, v in read_table(dump / "test" / "utt2num_frames").items()}
    assert sorted(wavs) == sorted(frames)
    assert all(len(read_wav(recipe / wavs[k], 16000)) == (frames[k] - 1) * 256 for k in frames)

    res = _run(recipe, root, *stage6)  # all done
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(GTA mel): done" in res.stderr and "(vocoder training): done" in res.stderr
    assert "Vocoding" not in res.stderr

    # another model: its GTA mel, the fine-tuning on it and the speech all again
    state = torch.load(exp / "model.pth", weights_only=True)
    name = next(iter(state))
    state[name] = state[name] + 0.01
    torch.save(state, exp / "valid.loss.best.pth")
    res = _run(recipe, root, *stage6)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(GTA mel): redo" in res.stderr and "(vocoder training): redo" in res.stderr
    assert "Vocoding" in res.stderr

    res = _run(recipe, root, "--stage", "6", "--stop_stage", "6", "--vocoder_finetune", "true")
    assert res.returncode != 0 and "--vocoder_finetune true" in res.stderr.splitlines()[-1]


def test_a_fine_tuning_config_without_a_gta_phase_is_refused_naming_the_file(tmp_path, capsys):
    from lipsound2.bin import vocoder_plan

    config = tmp_path / "my vocoder.yaml"
    config.write_text(yaml.safe_dump({"train": {"init_pretrained": True, "steps": 10}}))
    argv = ["train_args", "--vocoder_config", str(config), "--dumpdir", str(tmp_path), "--train_set", "train"]
    argv += ["--gta_feats", str(tmp_path / "gta" / "feats.scp")]
    assert vocoder_plan.main([*argv, "--vocoder_type", "hifigan"]) == 1
    err = capsys.readouterr().err
    assert "train.gta_steps > 0" in err and str(config) in err
    assert vocoder_plan.main([*argv, "--vocoder_type", "hifigan_units"]) == 1
    assert "fine-tunes --vocoder_type hifigan, not hifigan_units" in capsys.readouterr().err

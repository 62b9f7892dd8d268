"""The paper's settings are written once (lipsound2.paper): the recipes' paper configs, which
YAML cannot make import them, hold the same values; the defaults meant to be the paper's read
them; the stage options of --paper_settings true come from them."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lipsound2 import paper
from lipsound2.bin.paper_options import paper_options
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import FrontendConfig, load_config
from lipsound2.report.paper import model_settings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_CONF = ROOT / "egs" / "TEMPLATE" / "conf"
# Configs named for the paper that knowingly differ from it: what each leaves out of the check
# (the GPU rows' changes that make a model use the video within minutes, docs/network.md)
KNOWN_CHANGES = {
    "train_paper_gpu.yaml": {"decoding", "losses"},
    "train_paper_gpu_units.yaml": {"decoding", "losses", "schedule"},
}


def paper_configs() -> list[Path]:
    """Every paper config of the template and the recipes, each file once (recipes link many)."""
    found = {p.resolve() for p in ROOT.glob("egs/*/conf/**/*paper*.yaml")}
    return sorted(found)


def test_every_paper_config_is_held_to_the_constants():
    """A new paper config needs a check here: the train_paper* ones are checked below, and
    the template's inference and audio ones."""
    checked = {TEMPLATE_CONF / paper.INFERENCE_CONFIG, TEMPLATE_CONF / "train_audio_paper.yaml"}
    unchecked = [p for p in paper_configs() if p not in checked and not p.name.startswith("train_paper")]
    assert not unchecked, f"paper configs no test holds to lipsound2.paper: {unchecked}"
    assert TEMPLATE_CONF / paper.TRAIN_CONFIG in paper_configs()


def _check_optimiser(conf: dict, name: str, schedule: bool = True) -> None:
    assert conf["optim_conf"]["lr"] == paper.LEARNING_RATE, name
    if schedule:
        assert paper.LR_SCHEDULE in conf["scheduler"].lower(), name
    assert conf["grad_clip"] == paper.GRAD_CLIP, name


@pytest.mark.parametrize(
    "path",
    [p for p in paper_configs() if p.name.startswith("train_paper")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_network_paper_configs_hold_the_papers_values(path):
    conf = load_yaml(path)
    model = conf["model_conf"]
    skip = KNOWN_CHANGES.get(path.name, set())
    assert model["image_size"] == paper.IMAGE_SIZE
    for section, sizes in (
        ("encoder_conf", paper.ENCODER),
        ("decoder_conf", paper.DECODER),
        ("postnet_conf", paper.POSTNET),
    ):
        assert {k: model[section][k] for k in sizes} == paper.plain(sizes), section
    if "decoding" not in skip:
        assert model["decoder_conf"]["reduction_factor"] == paper.REDUCTION_FACTOR
        assert model["stop_mode"] == paper.STOP_MODE
    assert model["max_decode_steps"] == paper.MAX_DECODE_STEPS
    if "losses" not in skip:
        assert model["guided_attention_weight"] == 0 and model["encoder_mel_weight"] == 0
    assert model["ss_max_prob"] > 0  # scheduled sampling (no schedule given)
    assert conf["hflip_prob"] > 0 and conf["patience"] is not None  # flip, early stopping
    _check_optimiser(conf, path.name, schedule="schedule" not in skip)


def test_decoding_and_audio_paper_configs_hold_the_papers_values():
    inference = load_yaml(TEMPLATE_CONF / paper.INFERENCE_CONFIG)
    assert inference["max_decode_steps"] == paper.MAX_DECODE_STEPS
    assert inference["precision"] == paper.PRECISION
    assert inference["stop_mode"] in (None, paper.STOP_MODE)  # None: the model's own
    _check_optimiser(load_yaml(TEMPLATE_CONF / "train_audio_paper.yaml"), "train_audio_paper.yaml")


@pytest.mark.parametrize("frontend", [FrontendConfig(), load_config(TEMPLATE_CONF / "frontend.yaml")])
def test_front_end_defaults_and_template_are_the_papers_features(frontend):
    mel = frontend.mel.to_dict()
    assert all(math.isclose(float(mel[k]), float(v)) for k, v in paper.MEL.items()), mel
    assert frontend.video.fps == paper.FPS
    assert (frontend.crop.region, frontend.crop.size) == (paper.CROP_REGION, paper.IMAGE_SIZE)
    assert frontend.mel_per_video_frame == paper.MEL_PER_VIDEO_FRAME == 2.5


def test_network_defaults_are_table_one():
    conf = model_settings({})
    for section, sizes in (
        ("encoder_conf", paper.ENCODER),
        ("decoder_conf", paper.DECODER),
        ("postnet_conf", paper.POSTNET),
    ):
        assert {k: conf[section][k] for k in sizes} == paper.plain(sizes), section
    assert (conf["image_size"], conf["n_mels"]) == (paper.IMAGE_SIZE, paper.N_MELS)
    assert conf["decoder_conf"]["reduction_factor"] == paper.REDUCTION_FACTOR
    assert (conf["stop_mode"], conf["max_decode_steps"]) == (paper.STOP_MODE, paper.MAX_DECODE_STEPS)


def test_paper_options_print_shell_assignments_the_stage_script_declares(tmp_path):
    conf_dir = tmp_path / "a conf dir"
    conf_dir.mkdir()
    for name in (paper.TRAIN_CONFIG, paper.INFERENCE_CONFIG):
        (conf_dir / name).write_text("{}\n")
    run = subprocess.run(
        [sys.executable, "-m", "lipsound2.bin.paper_options", "--conf_dir", str(conf_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    names = [line.split("=", 1)[0] for line in run.stdout.splitlines()]
    # the shell reads back exactly the values, a path with a space included
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'eval "$1"; for n in {" ".join(names)}; do printf "%s\\n" "${{!n}}"; done',
            "-",
            run.stdout,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(zip(names, shell.stdout.splitlines()))
    assert values == paper_options(conf_dir)
    assert values["train_config"] == values["pretrain_config"] == str(conf_dir / paper.TRAIN_CONFIG)
    assert values["inference_config"] == str(conf_dir / paper.INFERENCE_CONFIG)
    assert values["ngram_order"] == str(paper.NGRAM_ORDER) and values["use_lm"] == "true"
    assert float(values["asr_lr_factor"]) == paper.ASR_LR_FACTOR
    assert (values["feats_normalize"], values["vocoder_type"]) == (paper.FEATS_NORMALIZE, "hifigan")
    # each is an option of the stage script (declared as name=default in the template's shell)
    declared = "\n".join(p.read_text() for p in (ROOT / "egs" / "TEMPLATE").glob("*.sh"))
    assert all(re.search(rf"^{n}=", declared, re.MULTILINE) for n in names), names


def test_paper_options_refuse_a_folder_without_the_paper_configs(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "lipsound2.bin.paper_options", "--conf_dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2 and paper.TRAIN_CONFIG in run.stderr and not run.stdout


def test_the_template_conf_dir_holds_the_paper_configs():
    run = subprocess.run(
        [sys.executable, "-m", "lipsound2.bin.paper_options", "--conf_dir", str(TEMPLATE_CONF)],
        capture_output=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr

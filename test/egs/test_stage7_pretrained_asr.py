"""Stage 7 with a packed pre-trained ASR: upper-case tokens, lower-case GRID text, lr = peak / 10.

A tiny ESPnet ASR is pre-trained here on upper-case transcripts (sentencepiece units, a
WarmupLR schedule) and packed with ``espnet2.bin.pack asr``; its experiment dir is then
deleted, so only the archive is left. The recipe's own stage 7 fine-tunes it on lower-case
GRID-style text (real and "generated" audio, in decode dirs of the inference tag given),
builds the n-gram LM and decodes; run again, it does nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lipsound2.bin.asr_cascade import main
from lipsound2.fileio.table import read_table, write_table
from lipsound2_testing.tiny_asr import TINY_ASR_CONF
from lipsound2_testing.trainer import NO_PLOTS

PEAK_LR = 0.004
LR_FACTOR = 0.1
PRETRAIN = {
    **TINY_ASR_CONF,
    "optim_conf": {"lr": PEAK_LR},
    # WarmupLR's peak is optim lr, reached at warmup_steps; a fine-tuning that kept this
    # schedule would restart at lr * 1/25000 (the LibriSpeech recipes' warm-up)
    "scheduler": "warmuplr",
    "scheduler_conf": {"warmup_steps": 25000},
}
# the decode dirs of the "generated" speech: <train_exp>/decode_<set>_<inference tag>
TAG = "tiny_model"
FINETUNE = {
    "max_epoch": 1,
    "batch_type": "unsorted",
    "batch_size": 8,
    "num_att_plot": 0,
    "keep_nbest_models": 1,
    **NO_PLOTS,
}


def _pack(work: Path) -> Path:
    """Pre-train on upper-case text with relative paths (as ESPnet recipes do), pack, delete."""
    with contextlib.chdir(work):
        (work / "pretrain.yaml").write_text(yaml.safe_dump(PRETRAIN))
        for split in ("train", "test"):
            main(["data", "--wav_scp", f"corpus/{split}/wav.scp", "--text", f"corpus/{split}/text",
                  "--outdir", f"pre/data/{split}"])  # fmt: skip
        main(["tokens", "--text", "pre/data/train/text", "--outdir", "pre/tokens", "--token_type", "bpe",
              "--nbpe", "30"])  # fmt: skip
        main(["train", "--config", "pretrain.yaml", "--train_dir", "pre/data/train", "--valid_dir",
              "pre/data/test", "--outdir", "pre/exp", "--token_list", "pre/tokens/tokens.txt",
              "--token_type", "bpe", "--bpemodel", "pre/tokens/bpe.model"])  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "espnet2.bin.pack", "asr", "--asr_train_config", "pre/exp/config.yaml",
             "--asr_model_file", "pre/exp/valid.acc.ave.pth", "--option", "pre/tokens/bpe.model",
             "--outpath", "packed/upper asr.zip"],
            check=True, capture_output=True,
        )  # fmt: skip
    shutil.rmtree(work / "pre")  # only the archive is left
    return work / "packed" / "upper asr.zip"


def _recipe_inputs(corpus: Path, work: Path) -> None:
    """dump/<set>/{wav.scp,text} in GRID's lower case, and each set's "generated" speech."""
    sets = {"train": corpus / "train", "valid": corpus / "test", "test": corpus / "test"}
    for name, src in sets.items():
        wavs = read_table(src / "wav.scp")
        write_table(work / "dump" / name / "wav.scp", wavs)
        write_table(
            work / "dump" / name / "text", {k: v.lower() for k, v in read_table(src / "text").items()}
        )
        write_table(work / "exp" / "lipsound2_train" / f"decode_{name}_{TAG}" / "wav.scp", wavs)


@pytest.fixture(scope="module")
def stage7(espeak_corpus, tmp_path_factory, root):
    work = tmp_path_factory.mktemp("pretrained asr")
    shutil.copytree(espeak_corpus, work / "corpus")
    env = {**os.environ, "PATH": f"{root / 'utils'}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    os.environ.update(PATH=env["PATH"], OMP_NUM_THREADS="1")
    archive = _pack(work)
    _recipe_inputs(work / "corpus", work)
    (work / "finetune.yaml").write_text(yaml.safe_dump(FINETUNE))
    opts = [
        "--stage", "7", "--stop_stage", "7", "--ngpu", "0", "--inference_nj", "1",
        "--train_set", "train", "--valid_set", "valid", "--test_sets", "test",
        "--dumpdir", str(work / "dump"), "--expdir", str(work / "exp"),
        "--asr_pretrained_model", str(archive), "--asr_finetune_config", str(work / "finetune.yaml"),
        "--asr_lr_factor", str(LR_FACTOR), "--ngram_order", "2", "--inference_tag", TAG,
    ]  # fmt: skip
    first = subprocess.run(
        ["./lipsound2.sh", *opts], cwd=root / "egs" / "mini_grid", env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr[-6000:]
    again = subprocess.run(
        ["./lipsound2.sh", *opts], cwd=root / "egs" / "mini_grid", env=env, capture_output=True, text=True
    )
    return work, first.stderr, again


def _token_ids(config_yaml: Path, texts: dict[str, str]) -> list[int]:
    """Token ids of ``texts`` as ESPnet's trainer makes them from this config."""
    from espnet2.tasks.asr import ASRTask

    config = yaml.safe_load(config_yaml.read_text())
    preprocess = ASRTask.build_preprocess_fn(argparse.Namespace(**config), train=False)
    return [int(i) for k, t in texts.items() for i in preprocess(k, {"text": t})["text"]]


def test_packed_model_is_unpacked_under_the_experiment(stage7):
    work, *_ = stage7
    unpacked = work / "exp" / "asr_pretrained" / "upper asr"
    config = yaml.safe_load(next(unpacked.rglob("config.yaml")).read_text())
    assert Path(config["bpemodel"]).is_file()
    assert Path(config["bpemodel"]).is_relative_to(unpacked)


@pytest.mark.parametrize("name", ["asr_finetune_real_finetune", f"lipsound2_train/asr_finetune_{TAG}"])
def test_finetuning_text_is_in_the_model_tokens(stage7, name):
    work, *_ = stage7
    ft = work / "exp" / name
    lower = read_table(work / "dump" / "train" / "text")
    tokens = yaml.safe_load((ft / "config.yaml").read_text())["token_list"]
    unk = tokens.index("<unk>")
    ids = _token_ids(ft / "config.yaml", read_table(ft / "data" / "train" / "text"))
    assert ids and ids.count(unk) / len(ids) < 0.01
    # what fine-tuning would have been fed without the mapping
    raw = _token_ids(ft / "config.yaml", lower)
    assert raw.count(unk) / len(raw) >= 0.5  # every word: "▁" and <unk>


@pytest.mark.parametrize("name", ["asr_finetune_real_finetune", f"lipsound2_train/asr_finetune_{TAG}"])
def test_finetuning_runs_at_peak_times_factor(stage7, name):
    work, *_ = stage7
    log = (work / "exp" / name / "train.log").read_text()
    rates = [float(x) for x in re.findall(r"epoch results: \[train\].*?optim0_lr0=([0-9.e+-]+)", log)]
    assert rates == [pytest.approx(PEAK_LR * LR_FACTOR, rel=1e-3)]
    assert "Loading pretrained params from" in log


def test_lm_and_hypotheses_use_the_model_tokens(stage7):
    work, *_ = stage7
    exp = work / "exp"
    test_keys = list(read_table(work / "dump" / "test" / "wav.scp"))
    hyp_files = [exp / "real_test" / "hyp" / "asr.txt", exp / "real_test" / "hyp" / "asr_ft.txt"]
    gen = exp / "lipsound2_train" / f"decode_test_{TAG}"
    hyp_files += [gen / "hyp" / f"{n}.txt" for n in ("asr", "asr_lm")]
    for path in hyp_files:
        hyps = read_table(path)
        assert list(hyps) == test_keys
        assert any(hyps.values()), path
        assert all(h == h.upper() for h in hyps.values()), path
    (arpa,) = (exp / "asr_lm").glob("lm_*.arpa")
    unigrams = arpa.read_text().split("\\1-grams:")[1].split("\\2-grams:")[0].split("\n")
    words = {line.split("\t")[1] for line in unigrams if "\t" in line} - {"<s>", "</s>", "<unk>"}
    assert words and all(w == w.upper() for w in words)


def test_a_second_run_does_nothing(stage7):
    """Every step of stage 7 is done with the same settings and inputs: nothing is trained,
    fine-tuned or decoded again, and the hypotheses stay as they were."""
    work, _, again = stage7
    assert again.returncode == 0, again.stderr[-6000:]
    steps = [line for line in again.stderr.splitlines() if " (step) " in line]
    assert len(steps) >= 10 and all(line.endswith(": done") for line in steps), steps
    assert "Fine-tuning" not in again.stderr and "Training" not in again.stderr
    gen = work / "exp" / "lipsound2_train"
    assert f"{gen / f'asr_data_{TAG}' / 'gen_train'} (ASR data): done" in again.stderr
    assert f"{gen / f'decode_test_{TAG}' / 'hyp' / 'asr_lm.txt'}: done" in again.stderr

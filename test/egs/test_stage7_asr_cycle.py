"""Stage 7's steps (lipsound2.bin.asr_cascade, ESPnet's ASR through the job runner) on espeak-ng
speech: a tiny ASR from scratch, fine-tuned (lr / 10), decoded with and without the n-gram LM."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from lipsound2.bin.asr_cascade import main
from lipsound2.fileio.table import read_table
from lipsound2_testing.tiny_asr import TINY_ASR_CONF
from lipsound2_testing.trainer import NO_PLOTS


def _epoch_losses(log: Path) -> list[float]:
    return [float(m) for m in re.findall(r"epoch results: \[train\].*?, loss=([0-9.]+)", log.read_text())]


def test_scratch_finetune_decode_cycle(espnet_dirs):
    exp, data, lm = espnet_dirs["exp"], espnet_dirs["data"], espnet_dirs["lm"]
    scratch, ft = exp / "asr scratch", exp / "asr finetune"

    losses = _epoch_losses(scratch / "train.log")
    assert len(losses) == 2 and losses[1] < losses[0]

    ft_config = yaml.safe_load((ft / "finetune_config.yaml").read_text())
    assert ft_config["optim_conf"]["lr"] == pytest.approx(0.0002)  # 10x smaller than 0.002
    assert ft_config["max_epoch"] == 1
    assert (
        yaml.safe_load((ft / "config.yaml").read_text())["token_list"]
        == yaml.safe_load((scratch / "config.yaml").read_text())["token_list"]
    )
    assert "Loading pretrained params from" in (ft / "train.log").read_text()

    tokens = set((exp / "tokens" / "tokens.txt").read_text().split())
    test_keys = list(read_table(data / "test" / "wav.scp"))
    for name in ("decode_nolm", "decode_lm"):
        hyps = read_table(ft / name / "text")
        assert list(hyps) == test_keys
        for hyp in hyps.values():
            assert set(hyp.replace(" ", "")) <= tokens
    assert (ft / "decode_lm" / "logdir" / "asr_inference.2.log").exists()
    assert lm.read_text().startswith("\n\\data\\")


def test_a_training_stopped_after_an_epoch_continues_from_its_checkpoint(espnet_dirs, tmp_path):
    """What a killed stage-7 training leaves (checkpoint.pth after epoch 1 of 2) is continued,
    as the stage's "resuming" says, not trained again from epoch 1."""
    data, tokens = espnet_dirs["data"], espnet_dirs["exp"] / "tokens" / "tokens.txt"
    out = tmp_path / "asr stopped"
    for epochs in (1, 2):  # the state after epoch 1 is the one a kill during epoch 2 leaves
        conf = tmp_path / f"tiny{epochs}.yaml"
        conf.write_text(yaml.safe_dump({**TINY_ASR_CONF, "max_epoch": epochs}))
        main(["train", "--config", str(conf), "--train_dir", str(data / "train"), "--valid_dir",
              str(data / "test"), "--outdir", str(out), "--token_list", str(tokens)])  # fmt: skip
    log = (out / "train.log").read_text()
    assert re.findall(r"(\d+)epoch results", log) == ["2"]
    assert (out / "2epoch.pth").is_file()


@pytest.fixture(scope="module")
def espnet_dirs(espeak_corpus, tmp_path_factory, root):
    os.environ["PATH"] = f"{root / 'utils'}{os.pathsep}{os.environ['PATH']}"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = tmp_path_factory.mktemp("asr work")
    exp, data = work / "exp", work / "data"
    for split in ("train", "test"):
        src = espeak_corpus / split
        main(
            [
                "data",
                "--wav_scp",
                str(src / "wav.scp"),
                "--text",
                str(src / "text"),
                "--outdir",
                str(data / split),
            ]
        )
    main(["tokens", "--text", str(data / "train" / "text"), "--outdir", str(exp / "tokens")])
    conf = work / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY_ASR_CONF))
    common = ["--train_dir", str(data / "train"), "--valid_dir", str(data / "test")]
    main(["train", "--config", str(conf), *common, "--outdir", str(exp / "asr scratch"),
          "--token_list", str(exp / "tokens" / "tokens.txt")])  # fmt: skip
    ft_conf = work / "ft.yaml"
    ft_conf.write_text(yaml.safe_dump({"max_epoch": 1, "batch_size": 8, "num_att_plot": 0, **NO_PLOTS}))
    main(["finetune", "--pretrained_model", str(exp / "asr scratch" / "valid.acc.ave.pth"), "--config",
          str(ft_conf), *common, "--outdir", str(exp / "asr finetune")])  # fmt: skip
    lm = exp / "lm" / "lm.arpa"
    main(["ngram", "--text", str(data / "train" / "text"), "--asr_train_config",
          str(exp / "asr scratch" / "config.yaml"), "--arpa", str(lm), "--order", "3"])  # fmt: skip
    decode_conf = root / "egs" / "TEMPLATE" / "conf" / "decode_asr.yaml"
    for name, nj, extra in (("decode_nolm", 1, []), ("decode_lm", 2, ["--ngram_file", str(lm)])):
        main(["decode", "--asr_model", str(exp / "asr finetune"), "--wav_scp", str(data / "test" / "wav.scp"),
              "--outdir", str(exp / "asr finetune" / name), "--nj", str(nj),
              "--inference_config", str(decode_conf), *extra])  # fmt: skip
    return {"exp": exp, "data": data, "lm": lm}

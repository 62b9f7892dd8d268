"""The mini_grid recipe end to end with tiny settings: stages 0-9, every stage's outputs checked.

One module-scoped run (a few minutes on 2 cores) feeds all the checks below; a second run
over the finished experiment must do nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.facetrack import read_face_track
from lipsound2.fileio.table import read_table
from lipsound2_testing.trainer import NO_PLOTS

SETS = ("train_sd", "dev_sd", "test_sd")
PRETRAIN_SETS = ("voxceleb2_train", "voxceleb2_valid")
EXPS = ("lipsound2_pretrained", "lipsound2_scratch", "lipsound2_blank_video")
# decode dirs are decode_<set>_<inference config>_<model file> (conf/inference.yaml, valid.loss.best.pth)
TAG = "inference_valid.loss.best"


def _tiny_conf(root: Path, name: str, out: Path, training: bool = True, **overrides) -> Path:
    """egs/TEMPLATE/conf/NAME with ``overrides`` (a training config also without plots)."""
    conf = yaml.safe_load((root / "egs" / "TEMPLATE" / "conf" / name).read_text())
    conf.update(NO_PLOTS if training else {}, **overrides)
    out.write_text(yaml.safe_dump(conf))
    return out


def _opts(work: Path, root: Path) -> list[str]:
    conf = work / "conf"
    conf.mkdir(exist_ok=True)
    train = dict(max_epoch=1, num_iters_per_epoch=2, batch_size=4, keep_nbest_models=1)
    opts = [
        "--datadir", str(work / "data"),
        "--dumpdir", str(work / "dump"),
        "--expdir", str(work / "exp"),
        "--local_data_opts",
        f"--corpus_dir {work}/corpus --speakers 2 --utts 6 --pretrain_speakers 2 "
        "--pretrain_videos 1 --pretrain_clips 3 --audio_speakers 0",  # no audio-only corpus: unused here
        "--pretrain_config", str(_tiny_conf(root, "train_cpu.yaml", conf / "pretrain.yaml", **train)),
        "--pretrain_args", "--num_iters_per_epoch 3",
        "--train_config", str(_tiny_conf(root, "train_cpu.yaml", conf / "train.yaml", **train)),
        "--asr_config", str(_tiny_conf(root, "asr_cpu.yaml", conf / "asr.yaml", max_epoch=1)),
        "--asr_finetune_config",
        str(_tiny_conf(root, "asr_finetune_cpu.yaml", conf / "asr_finetune.yaml", max_epoch=1)),
        # a beam of 2: the tiny ASR never ends a hypothesis, so each decode runs to the end of its
        # input, and the recipe's beam of 10 spent most of stage 7 on that
        "--asr_inference_config",
        str(_tiny_conf(root, "decode_asr.yaml", conf / "decode_asr.yaml", training=False, beam_size=2)),
        "--num_plots", "1",
        "--judges", "pocketsphinx",  # stage 8's judge steps, with the quicker judge (test_stage8 runs both)
        "--pretrained_vocoder", "true",  # the test mel and the oracle again through HiFi-GAN V1
    ]  # fmt: skip
    return opts


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory, root):
    work = tmp_path_factory.mktemp("mini_grid")
    opts = _opts(work, root)
    recipe = root / "egs" / "mini_grid"
    first = subprocess.run(["./run.sh", *opts], cwd=recipe, capture_output=True, text=True, timeout=900)
    log = first.stdout + first.stderr
    assert first.returncode == 0, log[-6000:]
    again = subprocess.run(["./run.sh", *opts], cwd=recipe, capture_output=True, text=True, timeout=300)
    return work, log, again


def test_stage0_data_dirs_are_valid(recipe_run, root):
    work, _, _ = recipe_run
    for dset in SETS + PRETRAIN_SETS:
        res = subprocess.run(
            [
                str(root / "utils" / "validate_data_dir.sh"),
                "--no-feats",
                "--no-wav",
                str(work / "data" / dset),
            ],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stderr
    train_spk = set(read_table(work / "data" / "train_sd" / "utt2spk").values())
    assert train_spk == {"s1", "s2"}


def test_stages1_2_face_tracks_audio_and_mel(recipe_run):
    work, _, _ = recipe_run
    for dset in SETS + PRETRAIN_SETS:
        dump = work / "dump" / dset
        tracks = read_table(dump / "video.scp")
        nvframes = {k: int(v) for k, v in read_table(dump / "utt2num_vframes").items()}
        feats = read_table(dump / "feats.scp")
        assert tracks.keys() == feats.keys() == nvframes.keys() and tracks
        key = next(iter(tracks))
        video = read_face_track(tracks[key])
        assert video.dtype == np.uint8 and video.shape[1:3] == (112, 112)
        assert len(video) == nvframes[key]
        mel = load_array(feats[key])
        assert mel.shape[1] == 80 and abs(mel.shape[0] - 2.5 * nvframes[key]) <= 3


def test_stages3_4_checkpoints_load_safely(recipe_run):
    work, _, _ = recipe_run
    for exp in ("lipsound2_pretrain",) + EXPS:
        state = torch.load(work / "exp" / exp / "valid.loss.best.pth", map_location="cpu", weights_only=True)
        assert any(k.startswith("encoder") or ".encoder." in k for k in state)
    config = yaml.safe_load((work / "exp" / "lipsound2_blank_video" / "config.yaml").read_text())
    assert config["blank_video"] is True
    # --pretrain_args reach stage 3's trainer and only it
    pretrain = yaml.safe_load((work / "exp" / "lipsound2_pretrain" / "config.yaml").read_text())
    assert pretrain["num_iters_per_epoch"] == 3 and config["num_iters_per_epoch"] == 2
    # mel targets normalised; fine-tuning keeps the pre-trained model's statistics, scratch has its own
    stats = {exp: np.load(work / "exp" / exp / "feats_stats.npz") for exp in ("lipsound2_pretrain",) + EXPS}
    for exp in ("lipsound2_pretrained", "lipsound2_blank_video"):
        np.testing.assert_array_equal(stats[exp]["sum"], stats["lipsound2_pretrain"]["sum"])
    assert not np.array_equal(stats["lipsound2_scratch"]["sum"], stats["lipsound2_pretrain"]["sum"])
    config = yaml.safe_load((work / "exp" / "lipsound2_pretrained" / "config.yaml").read_text())
    assert config["normalize"] == "global_mvn"


def test_stage5_mels_and_figures(recipe_run):
    work, _, _ = recipe_run
    for exp in EXPS:
        decode = work / "exp" / exp / f"decode_test_sd_{TAG}"
        mels = read_table(decode / "feats.scp")
        assert mels.keys() == read_table(work / "dump" / "test_sd" / "feats.scp").keys()
        assert all(load_array(spec).shape[1] == 80 for spec in mels.values())
        # the mel has the settings of the model's training data
        settings = (work / "dump" / "train_sd" / "frontend.yaml").read_text()
        assert (decode / "frontend.yaml").read_text() == settings
    plots = list((work / "exp" / "lipsound2_pretrained" / f"decode_test_sd_{TAG}" / "plots").glob("*.png"))
    assert plots


def test_stage6_generated_and_oracle_speech(recipe_run):
    work, _, _ = recipe_run
    exp = work / "exp" / "lipsound2_pretrained"
    for sub in (f"decode_test_sd_{TAG}", "oracle_test_sd", f"decode_train_sd_{TAG}"):
        wavs = read_table(exp / sub / "wav.scp")
        assert wavs
        with wave.open(next(iter(wavs.values()))) as w:
            assert w.getframerate() == 16000 and w.getnframes() > 16000 // 2
    # --pretrained_vocoder true: the same test mel and the oracle through the published HiFi-GAN
    v1 = work / "exp" / "lipsound2_pretrained_hifigan_pretrained"
    for sub in (f"decode_test_sd_{TAG}", "oracle_test_sd"):
        assert read_table(v1 / sub / "wav.scp").keys() == read_table(exp / sub / "wav.scp").keys()
        assert "hifigan_pretrained" in (v1 / sub / ".done.vocode").read_text()
    # the comparisons reuse the main experiment's oracle instead of vocoding their own
    for other in ("lipsound2_scratch", "lipsound2_blank_video"):
        assert (work / "exp" / other / f"decode_test_sd_{TAG}" / "wav.scp").is_file()
        assert not (work / "exp" / other / "oracle_test_sd").exists()


def test_stage7_lip_reading_hypotheses(recipe_run):
    work, _, _ = recipe_run
    hyp_dir = work / "exp" / "lipsound2_pretrained" / f"decode_test_sd_{TAG}" / "hyp"
    refs = read_table(work / "dump" / "test_sd" / "text")
    for name in ("asr.txt", "asr_lm.txt"):
        hyps = read_table(hyp_dir / name)
        assert hyps.keys() == refs.keys()
    # no pre-trained ASR: the one trained on real audio is not called a gold standard
    assert read_table(work / "exp" / "real_asr_trained_test_sd" / "hyp" / "asr.txt").keys() == refs.keys()
    assert not (work / "exp" / "real_test_sd" / "hyp" / "asr.txt").exists()


def test_stage8_results_and_report(recipe_run):
    work, _, _ = recipe_run
    exp = work / "exp" / "lipsound2_pretrained"
    results = (exp / "RESULTS.md").read_text()
    for row in (
        "Audio gold standard",
        "Real audio, ASR trained on this corpus (paper row: + fine-tuning)",
        "Oracle",
        "LipSound2 pre-trained + fine-tuned",
        "LipSound2 fine-tuned from scratch",
        "Blank video (no visual information)",
        "Oracle mel, HiFi-GAN V1 bridged",
        "LipSound2, HiFi-GAN V1 bridged",
    ):
        assert row in results
    for column in ("ESTOI", "PESQ", "WER"):
        assert column in results
    training = results.split("teacher-forced validation loss")[1]
    for row in ("LipSound2 pre-trained + fine-tuned", "from scratch", "Blank video"):
        assert row in training
    html = (exp / "report" / "index.html").read_text()
    assert "<table" in html and "<audio" in html


def test_stage9_pack_speaks_a_test_clip(recipe_run, root, tmp_path):
    """The demo ends with a pack that lipsound2-speak runs on a video of the test set."""
    work, _, _ = recipe_run
    pack = work / "exp" / "mini_grid.zip"
    clip = next(iter(read_table(work / "data" / "test_sd" / "video.scp").values()))
    cmd = [sys.executable, "-m", "lipsound2.bin.speak", clip, "--model", str(pack), "-o", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with wave.open(str(tmp_path / f"{Path(clip).stem}.wav")) as wav:
        assert wav.getnframes() == 3 * wav.getframerate()  # the generated clips last 3 s
    assert "real-time factor" in proc.stdout


def test_rerun_does_nothing(recipe_run):
    work, _, again = recipe_run
    assert again.returncode == 0, again.stderr[-4000:]
    # every step of every experiment (those run in the background log to exp/<tag>.log) is done
    logs = [again.stderr] + [(work / "exp" / f"{exp}.log").read_text() for exp in EXPS[1:]]
    for log in logs:
        assert "Training" not in log
        assert "Vocoding" not in log
        steps = [line for line in log.splitlines() if " (step) " in line]
        assert steps and all(line.endswith(": done") for line in steps), [
            line for line in steps if not line.endswith(": done")
        ]
    for what in ("(training)", "(speech)", "RESULTS.md", "mini_grid.zip"):
        assert f"{what}: done" in again.stderr, what


@pytest.fixture(scope="module")
def word_asr_run(recipe_run, root):
    """Stage 7 once more, after the finished run, with the cascade's ASR on word units."""
    work, _, _ = recipe_run
    args = [*_opts(work, root), "--stage", "7", "--stop_stage", "7", "--baselines", "false"]
    recipe = root / "egs" / "mini_grid"
    cmd = ["./run.sh", *args, "--asr_token_type", "word"]
    res = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-6000:]
    return work, res


def test_stage7_another_asr_token_type_is_fine_tuned_and_decoded_again(word_asr_run):
    """A finished cascade is not reused for another base ASR: nothing in stage 8's hyp files is stale."""
    work, res = word_asr_run
    exp = work / "exp" / "lipsound2_pretrained"
    base = work / "exp" / "asr_scratch_asr_word"
    assert (base / ".done.train").is_file()
    ft = exp / f"asr_finetune_{TAG}"
    assert f"{ft} (ASR fine-tuning): redo, since" in res.stderr
    ft_config = yaml.safe_load((ft / "config.yaml").read_text())
    assert ft_config["token_type"] == "word"
    assert str(base) in (ft / "base_model").read_text()
    words = set(ft_config["token_list"])
    refs = read_table(work / "dump" / "test_sd" / "text")
    for name in ("asr.txt", "asr_lm.txt"):
        hyp = exp / f"decode_test_sd_{TAG}" / "hyp" / name
        assert read_table(hyp).keys() == refs.keys()
        assert str(ft) in Path(f"{hyp}.model").read_text()
    real = work / "exp" / "real_asr_trained_test_sd" / "hyp" / "asr.txt.model"
    assert real.read_text().startswith(f"{base} ")
    lm = work / "exp" / "asr_lm" / "lm_3gram_asr_scratch_asr_word.arpa"
    unigrams = lm.read_text().split("\\1-grams:")[1].split("\\2-grams:")[0]
    assert words - {"<blank>", "<sos/eos>"} <= {line.split("\t")[1] for line in unigrams.strip().splitlines()}

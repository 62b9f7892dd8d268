"""The ESPnet training engine on LipSound2: resume, --init_param, weights_only files, and
distributed training through ESPnet's own trainer."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from lipsound2.bin import train
from lipsound2.nets.lipsound2 import DECODER_SIDE, LipSound2
from lipsound2.tasks.checkpoint import load_checkpoint, load_model
from lipsound2.tasks.lipsound2 import LipSound2Task
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus


def _config(tmp: Path, **overrides) -> Path:
    conf = {
        "model_conf": {**TINY_MODEL_CONF, "ss_max_prob": 0.3, "ss_start_step": 1, "ss_end_step": 4},
        "optim": "adam",
        "optim_conf": {"lr": 0.003},
        "scheduler": "cosineannealinglr",
        "scheduler_conf": {"T_max": 3},
        "grad_clip": 1.0,
        "batch_type": "sorted",
        "batch_size": 4,
        "num_att_plot": 0,
        "num_workers": 0,
        "best_model_criterion": [["valid", "loss", "min"]],
        "keep_nbest_models": 1,
        "seed": 3,
    }
    conf.update(overrides)
    path = tmp / "conf.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def _train_args(corpus: Path, out: Path, config: Path) -> list[str]:
    args = ["--config", str(config), "--output_dir", str(out), "--ngpu", "0"]
    for split in ("train", "valid"):
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'video.scp'},video,face_track"]
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'feats.scp'},feats,kaldi_ark"]
        args += [f"--{split}_shape_file", str(corpus / split / "video_shape")]
    return args


def _train(corpus: Path, out: Path, config: Path, *extra: str) -> None:
    train.main(_train_args(corpus, out, config) + list(extra))


def _losses(exp: Path) -> dict[int, float]:
    stats = load_checkpoint(exp / "checkpoint.pth")["reporter"]["stats"]
    return {epoch: (s["train"]["loss"], s["valid"]["loss"]) for epoch, s in stats.items()}


def test_resume_reproduces_uninterrupted_run(tiny_corpus: Path, tmp_path: Path):
    config = _config(tmp_path)
    _train(tiny_corpus, tmp_path / "straight", config, "--max_epoch", "3")
    _train(tiny_corpus, tmp_path / "resumed", config, "--max_epoch", "1")
    _train(tiny_corpus, tmp_path / "resumed", config, "--max_epoch", "3", "--resume", "true")
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert sorted(straight) == sorted(resumed) == [1, 2, 3]
    for epoch in straight:
        assert straight[epoch] == pytest.approx(resumed[epoch], rel=1e-5), epoch
    assert straight[3][0] < straight[1][0]  # and it learns
    # every file the trainer wrote loads with weights_only=True
    for name in ("checkpoint.pth", "valid.loss.best.pth", "3epoch.pth"):
        assert load_checkpoint(tmp_path / "resumed" / name)
    model, _ = load_model(tmp_path / "resumed" / "config.yaml", tmp_path / "resumed" / "valid.loss.best.pth")
    assert int(model.num_updates) == 6  # 2 updates x 3 epochs, restored from the checkpoint


def test_init_param_loads_pretrained_model(tiny_corpus: Path, tmp_path: Path):
    _train(tiny_corpus, tmp_path / "pre", _config(tmp_path), "--max_epoch", "1")
    pretrained = tmp_path / "pre" / "valid.loss.best.pth"
    frozen = _config(tmp_path, optim="sgd", optim_conf={"lr": 0.0}, scheduler=None, seed=11)
    _train(tiny_corpus, tmp_path / "fine", frozen, "--max_epoch", "1", "--init_param", str(pretrained))
    _train(tiny_corpus, tmp_path / "scratch", frozen, "--max_epoch", "1")
    pre = load_checkpoint(pretrained)
    fine = load_checkpoint(tmp_path / "fine" / "1epoch.pth")
    scratch = load_checkpoint(tmp_path / "scratch" / "1epoch.pth")
    weights = [k for k, v in pre.items() if v.is_floating_point() and "running" not in k]
    assert all(torch.equal(pre[k], fine[k]) for k in weights)
    assert not all(torch.equal(pre[k], scratch[k]) for k in weights)


def test_scheduled_sampling_counts_optimizer_updates(tiny_corpus: Path, tmp_path: Path):
    """With accum_grad 2 the trainer steps once per 2 batches: 1 update per epoch here."""
    model_conf = {**TINY_MODEL_CONF, "ss_max_prob": 0.3, "ss_start_step": 0, "ss_end_step": 4}
    config = _config(tmp_path, model_conf=model_conf, accum_grad=2)
    _train(tiny_corpus, tmp_path / "exp", config, "--max_epoch", "2")
    checkpoint = load_checkpoint(tmp_path / "exp" / "checkpoint.pth")
    steps = [int(s["step"]) for s in checkpoint["optimizers"][0]["state"].values()]
    assert set(steps) == {2} and int(checkpoint["model"]["num_updates"]) == 2
    # the probability each epoch trained with: 0 updates, then 1 update of the 4 to 0.3
    stats = checkpoint["reporter"]["stats"]
    assert [stats[epoch]["train"]["ss_prob"] for epoch in (1, 2)] == pytest.approx([0.0, 0.075])


def _fine_tune_with_recipe(root: Path, corpus: Path, exp: Path, config: Path, pretrained: Path, restart: str):
    """Stage 4 of the stage script, initialised from ``pretrained``: its model and checkpoint."""
    opts = ["--stage", "4", "--stop_stage", "4", "--dumpdir", str(corpus), "--expdir", str(exp)]
    opts += ["--train_set", "train", "--valid_set", "valid", "--pretrain_model", str(pretrained)]
    opts += ["--train_config", str(config), "--train_tag", "fine", "--feats_normalize", "none"]
    opts += ["--ss_restart", restart]
    res = subprocess.run(
        ["./lipsound2.sh", *opts], cwd=root / "egs" / "mini_grid", capture_output=True, text=True, timeout=600
    )
    log = exp / "fine" / "train.log"
    assert res.returncode == 0, res.stderr[-3000:] + (log.read_text()[-3000:] if log.exists() else "")
    return load_checkpoint(exp / "fine" / "1epoch.pth"), load_checkpoint(exp / "fine" / "checkpoint.pth")


def test_fine_tuning_restarts_scheduled_sampling(root: Path, tiny_corpus: Path, tmp_path: Path):
    """Stage 4 initialised from a pre-trained model starts the update count at 0, unless
    ``--ss_restart false``; the weights come from the pre-trained model either way."""
    _train(tiny_corpus, tmp_path / "pre", _config(tmp_path), "--max_epoch", "1")
    pretrained = tmp_path / "pre" / "valid.loss.best.pth"
    pre = load_checkpoint(pretrained)
    assert int(pre["num_updates"]) == 2
    # lr 0: the weights stay the pre-trained ones, and each step still counts as an update
    frozen = _config(tmp_path, optim="sgd", optim_conf={"lr": 0.0}, scheduler=None, max_epoch=1)
    weights = [k for k, v in pre.items() if v.is_floating_point() and "running" not in k]
    prob = {}
    for restart, updates in (("true", 2), ("false", 4)):
        exp = tmp_path / f"exp restart={restart}"
        model, checkpoint = _fine_tune_with_recipe(root, tiny_corpus, exp, frozen, pretrained, restart)
        assert int(model["num_updates"]) == updates, restart
        assert all(torch.equal(pre[k], model[k]) for k in weights), restart
        prob[restart] = checkpoint["reporter"]["stats"][1]["train"]["ss_prob"]
    # ss 0 -> 0.3 over updates 1-4: counts 0 and 1 give 0; the kept counts 2 and 3 give 0.1, 0.2
    assert prob == pytest.approx({"true": 0.0, "false": 0.15})


class _TracedTask(LipSound2Task):
    """The LipSound2 task as the recipe trains it, with two changes for an exact comparison:
    BatchNorm normalises with its running statistics in training too (per-process batch
    statistics differ by design), and the optimiser saves the gradients of each step it
    takes (after the trainer's all-reduce and clipping) to ``OUTPUT_DIR/grads.RANK.pt``."""

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> LipSound2:
        model = super().build_model(args)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                # the trainer calls model.train() every epoch: a flag set once would not hold
                module.register_forward_pre_hook(lambda m, _: setattr(m, "training", False))
        return model

    @classmethod
    def build_optimizers(cls, args: argparse.Namespace, model: torch.nn.Module) -> list:
        optimizers = super().build_optimizers(args, model)
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        path, steps = Path(args.output_dir) / f"grads.{rank}.pt", []

        def save(optimizer, *_):
            steps.append({n: p.grad.clone() for n, p in model.named_parameters()})
            torch.save(steps, path)

        optimizers[0].register_step_pre_hook(save)
        return optimizers


def _rank(rank: int, world: int, args: list[str], task: type[LipSound2Task] = LipSound2Task) -> None:
    """One process of ESPnet's external-launcher mode (``--multiprocessing_distributed
    false``: one process per rank, here on the CPU over gloo)."""
    torch.set_num_threads(1)
    args = args + ["--dist_world_size", str(world), "--dist_rank", str(rank), "--dist_backend", "gloo"]
    task.main(cmd=args + ["--multiprocessing_distributed", "false"])


def test_two_process_trainer_matches_one_process(tmp_path: Path):
    """ESPnet's Trainer (run, train_one_epoch, validate_one_epoch) in 2 gloo processes, each
    on its half of every batch, against 1 process on whole batches: the same gradients at
    every step and the same reported statistics. The utterances are of one length: ESPnet
    weights each process's statistics by its utterances, which equals the whole batch's
    frame-averaged losses only when the processes hold as many frames per utterance."""
    import torch.multiprocessing as mp

    corpus = tmp_path / "corpus"
    write_corpus(corpus / "train", 8, min_frames=8, max_frames=8, seed=1)
    write_corpus(corpus / "valid", 4, min_frames=8, max_frames=8, seed=2)
    decoder_conf = {**TINY_MODEL_CONF["decoder_conf"], "prenet_dropout": 0.0}
    model_conf = {**TINY_MODEL_CONF, "decoder_conf": decoder_conf}  # no dropout, no sampling
    config = _config(
        tmp_path, model_conf=model_conf, optim="sgd", optim_conf={"lr": 0.5}, scheduler=None, hflip_prob=0.0
    )
    runs = {}
    for name, world in (("one", 1), ("two", 2)):
        out = tmp_path / name
        args = _train_args(corpus, out, config) + ["--max_epoch", "1"]
        if world == 1:
            _TracedTask.main(cmd=args)
        else:
            args += ["--dist_init_method", f"file://{tmp_path / 'dist_init'}"]
            mp.spawn(_rank, args=(world, args, _TracedTask), nprocs=world, join=True)
        stats = load_checkpoint(out / "checkpoint.pth")["reporter"]["stats"][1]
        runs[name] = torch.load(out / "grads.0.pt", weights_only=True), stats
        assert int(load_checkpoint(out / "1epoch.pth")["num_updates"]) == 2
    (one_grads, one_stats), (two_grads, two_stats) = runs["one"], runs["two"]
    assert len(one_grads) == len(two_grads) == 2  # 8 utterances, batches of 4
    for step, (one, two) in enumerate(zip(one_grads, two_grads)):
        for name in one:
            torch.testing.assert_close(
                two[name], one[name], atol=1e-6, rtol=1e-4, msg=lambda m, n=name, s=step: f"{s} {n}: {m}"
            )
    for split in ("train", "valid"):
        keys = {k for k in one_stats[split] if not k.endswith("time") and k != "total_count"}
        assert {"loss", "dec_loss", "post_loss", "att_diag", "ss_prob"} <= keys
        assert keys == {k for k in two_stats[split] if not k.endswith("time") and k != "total_count"}
        for key in keys:
            expected = pytest.approx(one_stats[split][key], rel=1e-5, abs=1e-7)
            assert two_stats[split][key] == expected, (split, key)
    assert "grad_norm" in one_stats["train"]


def test_a_frozen_decoder_trains_under_ddp(tmp_path: Path):
    """``freeze_decoder_updates`` in 2 gloo processes of ESPnet's trainer, without
    ``--unused_parameters`` given: DDP would stop at the second step (the frozen decoder gives
    no gradient); the task switches the option on, the decoder stays as it was for the frozen
    updates and trains after them."""
    import torch.multiprocessing as mp

    corpus = tmp_path / "corpus"
    write_corpus(corpus / "train", 8, min_frames=8, max_frames=8, seed=1)
    write_corpus(corpus / "valid", 4, min_frames=8, max_frames=8, seed=2)
    config = _config(
        tmp_path,
        model_conf={**TINY_MODEL_CONF, "freeze_decoder_updates": 2},
        optim_conf={"lr": 0.003, "weight_decay": 0.1},
        hflip_prob=0.0,
        keep_nbest_models=10,
    )
    initial = LipSound2(**TINY_MODEL_CONF).state_dict()
    torch.save(initial, tmp_path / "initial.pth")
    out = tmp_path / "exp"
    args = _train_args(corpus, out, config) + ["--max_epoch", "2"]
    args += ["--init_param", str(tmp_path / "initial.pth")]
    args += ["--dist_init_method", f"file://{tmp_path / 'init'}"]
    mp.spawn(_rank, args=(2, args), nprocs=2, join=True)
    assert yaml.safe_load((out / "config.yaml").read_text())["unused_parameters"] is True
    first, second = load_checkpoint(out / "1epoch.pth"), load_checkpoint(out / "2epoch.pth")
    assert int(first["num_updates"]) == 2 and int(second["num_updates"]) == 4  # 8 utterances, batch 4
    decoder = [k for k, v in initial.items() if k.split(".")[0] in DECODER_SIDE and v.is_floating_point()]
    assert len(decoder) > 20
    assert [k for k in decoder if not torch.equal(initial[k], first[k])] == []
    assert any(not torch.equal(initial[k], first[k]) for k in initial if k.startswith("encoder."))
    weights = [k for k in decoder if "running" not in k]
    assert [k for k in weights if torch.equal(first[k], second[k])] == []


class _RandomnessTask(LipSound2Task):
    """The recipe's task, recording per rank what it drew: the initial weights, a draw of the
    trainer's RNG right after the model is built (the dropout masks come from it), and the
    face-track flips of the training loader."""

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> LipSound2:
        model = super().build_model(args)
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        record = {
            "weights": {n: p.detach().clone() for n, p in model.named_parameters()},
            "draw": torch.rand(16),
        }
        torch.save(record, Path(args.output_dir).parent / f"random.{rank}.pt")
        return model

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool):
        preprocess = super().build_preprocess_fn(args, train)
        if not train:
            return preprocess
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        log = Path(args.output_dir).parent / f"flips.{rank}.txt"

        draw = preprocess._flip

        def traced():  # the loader runs in this process (num_workers 0)
            flipped = draw()
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{int(flipped)}\n")
            return flipped

        preprocess._flip = traced
        return preprocess


def test_each_rank_draws_its_own_dropout_and_flips_from_the_same_weights(tmp_path: Path):
    """ESPnet seeds every rank alike; the ranks of ESPnet's own trainer (2 gloo processes)
    must start from the same weights but draw different dropout masks and flips."""
    import torch.multiprocessing as mp

    corpus = tmp_path / "corpus"
    write_corpus(corpus / "train", 16, min_frames=8, max_frames=8, seed=1)
    write_corpus(corpus / "valid", 4, min_frames=8, max_frames=8, seed=2)
    config = _config(tmp_path, hflip_prob=0.5)
    args = _train_args(corpus, tmp_path / "exp", config) + ["--max_epoch", "1"]
    args += ["--dist_init_method", f"file://{tmp_path / 'dist_init'}"]
    mp.spawn(_rank, args=(2, args, _RandomnessTask), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"random.{r}.pt", weights_only=True) for r in (0, 1)]
    for name, weight in ranks[0]["weights"].items():
        assert torch.equal(weight, ranks[1]["weights"][name]), name
    assert not torch.equal(ranks[0]["draw"], ranks[1]["draw"])
    flips = [[int(line) for line in (tmp_path / f"flips.{r}.txt").read_text().splitlines()] for r in (0, 1)]
    assert len(flips[0]) == len(flips[1]) == 8  # each rank its half of the 16 utterances
    assert flips[0] != flips[1]

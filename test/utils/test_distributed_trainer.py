"""Distributed training through ESPnet's own trainer in its external-launcher mode: one process
per rank (2 gloo processes on the CPU), as ``espnet2.bin.launch`` starts them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import yaml

from lipsound2.nets.lipsound2 import DECODER_SIDE, LipSound2
from lipsound2.tasks.checkpoint import load_checkpoint
from lipsound2.tasks.lipsound2 import LipSound2Task
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, train_args, train_config, write_corpus


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
    config = train_config(
        tmp_path, model_conf=model_conf, optim="sgd", optim_conf={"lr": 0.5}, scheduler=None, hflip_prob=0.0
    )
    runs = {}
    for name, world in (("one", 1), ("two", 2)):
        out = tmp_path / name
        args = train_args(corpus, out, config) + ["--max_epoch", "1"]
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
    config = train_config(
        tmp_path,
        model_conf={**TINY_MODEL_CONF, "freeze_decoder_updates": 2},
        optim_conf={"lr": 0.003, "weight_decay": 0.1},
        hflip_prob=0.0,
        keep_nbest_models=10,
    )
    initial = LipSound2(**TINY_MODEL_CONF).state_dict()
    torch.save(initial, tmp_path / "initial.pth")
    out = tmp_path / "exp"
    args = train_args(corpus, out, config) + ["--max_epoch", "2"]
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
    config = train_config(tmp_path, hflip_prob=0.5)
    args = train_args(corpus, tmp_path / "exp", config) + ["--max_epoch", "1"]
    args += ["--dist_init_method", f"file://{tmp_path / 'dist_init'}"]
    mp.spawn(_rank, args=(2, args, _RandomnessTask), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"random.{r}.pt", weights_only=True) for r in (0, 1)]
    for name, weight in ranks[0]["weights"].items():
        assert torch.equal(weight, ranks[1]["weights"][name]), name
    assert not torch.equal(ranks[0]["draw"], ranks[1]["draw"])
    flips = [[int(line) for line in (tmp_path / f"flips.{r}.txt").read_text().splitlines()] for r in (0, 1)]
    assert len(flips[0]) == len(flips[1]) == 8  # each rank its half of the 16 utterances
    assert flips[0] != flips[1]

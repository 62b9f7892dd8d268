"""The ESPnet training engine on LipSound2: resume, --init_param, weights_only files, DDP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml
from tiny_lipsound2 import TINY_MODEL_CONF

from lipsound2.bin import train
from lipsound2.tasks.checkpoint import load_checkpoint, load_model


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


def _train(corpus: Path, out: Path, config: Path, *extra: str) -> None:
    args = ["--config", str(config), "--output_dir", str(out), "--ngpu", "0"]
    for split in ("train", "valid"):
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'video.scp'},video,face_track"]
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'feats.scp'},feats,kaldi_ark"]
        args += [f"--{split}_shape_file", str(corpus / split / "video_shape")]
    train.main(args + list(extra))


def _losses(exp: Path) -> dict[int, float]:
    stats = load_checkpoint(exp / "checkpoint.pth")["reporter"]["stats"]
    return {epoch: (s["train"]["loss"], s["valid"]["loss"]) for epoch, s in stats.items()}


@pytest.mark.slow
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
    assert int(model.num_updates) == 6  # 2 batches x 3 epochs, restored from the checkpoint


@pytest.mark.slow
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


def _ddp_worker(rank: int, init_file: str, batch: dict, conf: dict, out_dir: str) -> None:
    import torch.distributed as dist

    from lipsound2.nets.lipsound2 import LipSound2

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = _frozen_norm(LipSound2(**conf))
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    part = {k: v[2 * rank : 2 * rank + 2] for k, v in batch.items()}
    loss, _, _ = ddp(**part)
    loss.backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in model.named_parameters()}, os.path.join(out_dir, "ddp.pt"))
    dist.destroy_process_group()


def _frozen_norm(model: torch.nn.Module) -> torch.nn.Module:
    """Train mode without dropout and with BatchNorm on running statistics: what remains is
    the gradient averaging under test (per-process BatchNorm statistics differ by design)."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    return model


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path: Path):
    import torch.multiprocessing as mp

    from lipsound2.nets.lipsound2 import LipSound2

    g = torch.Generator().manual_seed(1)
    batch = {
        "video": torch.randint(0, 256, (4, 6, 112, 112), generator=g).float(),
        "video_lengths": torch.tensor([6, 6, 6, 6]),
        "feats": torch.randn(4, 15, 80, generator=g),
        "feats_lengths": torch.tensor([15, 15, 15, 15]),
    }
    conf = {**TINY_MODEL_CONF, "decoder_conf": {**TINY_MODEL_CONF["decoder_conf"], "prenet_dropout": 0.0}}
    mp.spawn(_ddp_worker, args=(str(tmp_path / "init"), batch, conf, str(tmp_path)), nprocs=2, join=True)
    torch.manual_seed(0)
    model = _frozen_norm(LipSound2(**conf))
    loss, _, _ = model(**batch)
    loss.backward()
    ddp_grads = torch.load(tmp_path / "ddp.pt", weights_only=True)
    for name, param in model.named_parameters():
        torch.testing.assert_close(
            ddp_grads[name], param.grad, atol=1e-6, rtol=1e-4, msg=lambda m, n=name: f"{n}: {m}"
        )

"""HiFi-GAN training over a long run: the learning rate decays per epoch, and an interrupted
training resumes from its checkpoint to the same generator."""

from __future__ import annotations

import pytest
import torch

from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders import hifigan_train
from lipsound2.vocoders.hifigan_train import TrainOptions, epoch_steps, train_hifigan
from lipsound2_testing.tiny_hifigan import TINY_D, TINY_G, KilledError, kill_training_after


def _options(**overrides) -> TrainOptions:
    base = dict(steps=6, batch_size=2, segment_frames=16, lr=1e-3, lr_decay=0.5, log_interval=3)
    return TrainOptions(**{**base, "discriminator_start_step": 3, "checkpoint_interval": 2, **overrides})


def _generator(path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["generator"]


def test_the_learning_rate_decays_once_per_epoch_not_per_step(grid_wavs, tmp_path, monkeypatch):
    wavs = {p.stem: str(p) for p in grid_wavs[:4]}
    per_epoch = epoch_steps(len(wavs), 2)
    assert per_epoch == 2  # 4 utterances, 2 windows a step
    saved: dict[int, float] = {}
    save = hifigan_train._save_training

    def keep_lr(path, step, nets, stateful, *rest):
        saved[step] = stateful["opt_g"].param_groups[0]["lr"]
        save(path, step, nets, stateful, *rest)

    monkeypatch.setattr(hifigan_train, "_save_training", keep_lr)
    train_hifigan(wavs, tmp_path, TINY_G, TINY_D, _options(), MelConfig())
    # steps 2 and 4 close epochs 1 and 2: 0.5 and 0.25 of the peak (per step it would be 1/4, 1/16)
    assert saved == pytest.approx({2: 1e-3 * 0.5, 4: 1e-3 * 0.25})
    assert not (tmp_path / "checkpoint.pth").exists()  # a finished training leaves only its vocoder


def test_an_interrupted_training_resumes_to_the_same_generator(grid_wavs, tmp_path, monkeypatch):
    wavs = {p.stem: str(p) for p in grid_wavs[:4]}
    train_hifigan(wavs, tmp_path / "whole", TINY_G, TINY_D, _options(), MelConfig())

    kill_training_after(monkeypatch, 4)
    with pytest.raises(KilledError):
        train_hifigan(wavs, tmp_path / "resumed", TINY_G, TINY_D, _options(), MelConfig())
    assert (tmp_path / "resumed" / "checkpoint.pth").exists()
    assert not (tmp_path / "resumed" / "vocoder.pth").exists()
    monkeypatch.undo()
    train_hifigan(wavs, tmp_path / "resumed", TINY_G, TINY_D, _options(), MelConfig())
    whole, resumed = (
        _generator(tmp_path / "whole" / "vocoder.pth"),
        _generator(tmp_path / "resumed" / "vocoder.pth"),
    )
    assert whole.keys() == resumed.keys()
    for name in whole:
        torch.testing.assert_close(resumed[name], whole[name], rtol=0, atol=0, msg=name)
    log = (tmp_path / "resumed" / "train_log.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in log] == ["step", "3", "6"]  # one log, continued

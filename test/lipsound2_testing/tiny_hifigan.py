"""A HiFi-GAN small enough to train a few steps in a test (hop 256: 8 x 8 x 2 x 2), and a way
to kill its training at a step, as a job killed on a cluster."""

import pytest

from lipsound2.vocoders import hifigan_train

TINY_G = dict(
    channels=16,
    upsample_scales=[8, 8, 2, 2],
    upsample_kernel_sizes=[16, 16, 4, 4],
    resblock_kernel_sizes=[3],
    resblock_dilations=[[1, 3]],
)
TINY_D = dict(
    scales=1,
    periods=[2, 3],
    scale_discriminator_params=dict(channels=8, max_downsample_channels=32, max_groups=4),
    period_discriminator_params=dict(channels=8, max_downsample_channels=32),
)


class KilledError(Exception):
    """The training was killed (raised just after a checkpoint was saved)."""


def kill_training_after(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Make the vocoder training raise :class:`KilledError` right after it saves the checkpoint
    of ``step``; ``monkeypatch.undo()`` lets it run on."""
    save = hifigan_train._save_training

    def killed(path, at, *rest):
        save(path, at, *rest)
        if at == step:
            raise KilledError

    monkeypatch.setattr(hifigan_train, "_save_training", killed)

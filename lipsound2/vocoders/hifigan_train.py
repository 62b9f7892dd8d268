"""Train the HiFi-GAN vocoder on a corpus' real training audio (recipe stage 6).

Each step draws random utterances, computes the paper's log-mel of the whole (peak
normalised) waveform, and cuts an aligned window of ``segment_frames`` frames and
``segment_frames * hop`` samples. Losses are ESPnet's: L1 log-mel distance, least-squares
adversarial loss and feature matching, weighted as in the HiFi-GAN paper (45, 1, 2). On a
CPU the discriminators can start late (``discriminator_start_step``) so that a few minutes
of training go to the mel loss that matters most for intelligibility.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from espnet2.gan_tts.hifigan import HiFiGANMultiScaleMultiPeriodDiscriminator
from espnet2.gan_tts.hifigan.loss import (
    DiscriminatorAdversarialLoss,
    FeatureMatchLoss,
    GeneratorAdversarialLoss,
    MelSpectrogramLoss,
)
from tqdm import tqdm

from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.mel import LogMel, MelConfig
from lipsound2.vocoders.hifigan import build_generator, save_checkpoint

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """The ``train`` section of a HiFi-GAN vocoder config."""

    steps: int = 2000
    batch_size: int = 8
    segment_frames: int = 32
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    lr_decay: float = 0.999
    lambda_mel: float = 45.0
    lambda_adv: float = 1.0
    lambda_fm: float = 2.0
    discriminator_start_step: int = 0
    grad_clip: float = 10.0
    log_interval: int = 50
    seed: int = 0


class SegmentSampler:
    """Random aligned (mel, waveform) windows from a list of wav files."""

    def __init__(self, wav_paths: Sequence[str], config: MelConfig, segment_frames: int, seed: int) -> None:
        if not wav_paths:
            raise ValueError("no training audio")
        self.paths = list(wav_paths)
        self.config = config
        self.frames = segment_frames
        self.logmel = LogMel(config)
        self.rng = random.Random(seed)
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _load(self, path: str) -> tuple[torch.Tensor, torch.Tensor]:
        if path not in self._cache:
            wav = torch.from_numpy(read_wav(path, self.config.sample_rate))
            wav = wav / wav.abs().max().clamp_min(1e-8)
            with torch.no_grad():
                mel = self.logmel(wav)
            if len(self._cache) < 2000:  # small corpora stay in memory, large ones are re-read
                self._cache[path] = (mel, wav)
            return mel, wav
        return self._cache[path]

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, n_mels, frames)`` mel and ``(B, 1, frames * hop)`` waveform."""
        hop, n = self.config.hop_length, self.frames
        mels, wavs = [], []
        for path in self.rng.choices(self.paths, k=size):
            mel, wav = self._load(path)
            wav = torch.nn.functional.pad(wav, (0, max(0, (len(mel) + n) * hop - len(wav))))
            if len(mel) < n:
                mel = torch.cat([mel, mel.new_full((n - len(mel), mel.shape[1]), mel.min())])
            start = self.rng.randrange(0, len(mel) - n + 1)
            mels.append(mel[start : start + n].T)
            wavs.append(wav[start * hop : (start + n) * hop].unsqueeze(0))
        return torch.stack(mels), torch.stack(wavs)


def train_hifigan(
    wav_paths: Sequence[str],
    outdir: str | Path,
    generator_params: dict[str, Any],
    discriminator_params: dict[str, Any],
    options: TrainOptions,
    config: MelConfig,
) -> list[tuple[int, float]]:
    """Train on the log-mel of ``config`` (the front end's settings) and write
    ``outdir/vocoder.pth``; returns the logged ``(step, mel L1)`` curve."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(options.seed)
    generator = build_generator(generator_params, config)
    discriminator = HiFiGANMultiScaleMultiPeriodDiscriminator(**discriminator_params)
    opt_g = torch.optim.AdamW(generator.parameters(), lr=options.lr, betas=tuple(options.betas))
    opt_d = torch.optim.AdamW(discriminator.parameters(), lr=options.lr, betas=tuple(options.betas))
    sched_g = torch.optim.lr_scheduler.ExponentialLR(opt_g, options.lr_decay)
    sched_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, options.lr_decay)
    mel_loss_fn = MelSpectrogramLoss(
        fs=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        n_mels=config.n_mels,
        fmin=int(config.f_min),
        fmax=int(config.f_max),
    )
    adv_g, adv_d, fm_loss_fn = GeneratorAdversarialLoss(), DiscriminatorAdversarialLoss(), FeatureMatchLoss()
    sampler = SegmentSampler(wav_paths, config, options.segment_frames, options.seed)

    curve: list[tuple[int, float]] = []
    running: list[float] = []
    with open(outdir / "train_log.tsv", "w", encoding="utf-8") as logf:
        logf.write("step\tmel_l1\tadv_g\tfm\tadv_d\n")
        for step in tqdm(range(1, options.steps + 1), desc="hifigan", mininterval=5):
            mel, wav = sampler.batch(options.batch_size)
            use_d = step > options.discriminator_start_step
            fake = generator(mel)
            loss_mel = mel_loss_fn(fake, wav)
            loss_g = options.lambda_mel * loss_mel
            adv = fm = loss_d = torch.zeros(())
            if use_d:
                out_fake = discriminator(fake)
                with torch.no_grad():
                    out_real = discriminator(wav)
                adv = adv_g(out_fake)
                fm = fm_loss_fn(out_fake, out_real)
                loss_g = loss_g + options.lambda_adv * adv + options.lambda_fm * fm
            opt_g.zero_grad()
            loss_g.backward()
            torch.nn.utils.clip_grad_norm_(generator.parameters(), options.grad_clip)
            opt_g.step()
            sched_g.step()
            if use_d:
                real_loss, fake_loss = adv_d(discriminator(fake.detach()), discriminator(wav))
                loss_d = real_loss + fake_loss
                opt_d.zero_grad()
                loss_d.backward()
                torch.nn.utils.clip_grad_norm_(discriminator.parameters(), options.grad_clip)
                opt_d.step()
                sched_d.step()
            running.append(loss_mel.item())
            if step % options.log_interval == 0 or step == options.steps:
                mean = float(np.mean(running))
                running.clear()
                curve.append((step, mean))
                logf.write(f"{step}\t{mean:.4f}\t{adv.item():.4f}\t{fm.item():.4f}\t{loss_d.item():.4f}\n")
                logf.flush()
                log.info("step %d: mel L1 %.4f", step, mean)
    save_checkpoint(outdir / "vocoder.pth", generator, generator_params, config, options.steps)
    return curve

"""Train the HiFi-GAN vocoder on a corpus' real training audio (recipe stage 6).

Each step draws random utterances, computes the paper's log-mel of the whole (peak
normalised) waveform, and cuts an aligned window of ``segment_frames`` frames and
``segment_frames * hop`` samples. Losses are ESPnet's: L1 log-mel distance, least-squares
adversarial loss and feature matching, weighted as in the HiFi-GAN paper (45, 1, 2). On a
CPU the discriminators can start late (``discriminator_start_step``) so that a few minutes
of training go to the mel loss that matters most for intelligibility.

With :class:`UnitInputs` it trains the mel + units generator of ``hifigan_units.py`` instead:
each window also takes the utterance's ground-truth units (one per mel frame), and its mel is
degraded by :class:`~lipsound2.vocoders.augment.MelAugment` before it goes in, so that the
vocoder learns to rely on the units where a predicted mel is blurry; the losses still compare
the output with the clean audio. With :class:`SpeakerInputs` each window also takes its
utterance's speaker embedding, and the checkpoint keeps the training speakers' table.

Fine-tuning (Tacotron 2's and HiFi-GAN's own recipe): ``train.steps`` steps on the ground-truth
mel, then ``train.gta_steps`` steps whose input mel is the acoustic model's teacher-forced
("ground-truth-aligned", GTA) prediction of each training utterance (``gta_inputs``, from
``lipsound2.bin.gta_mel``), cut at the same frames as the real audio the losses compare
with, so the vocoder learns to turn the blurred predicted mel into the real waveform. The
learning rate keeps decaying per epoch across the two phases, and the training checkpoint
records the phase it was saved in.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
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

from lipsound2.fileio.ark import load_array
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.mel import LogMel, MelConfig
from lipsound2.vocoders.augment import MelAugment
from lipsound2.vocoders.hifigan import build_generator, save_checkpoint
from lipsound2.vocoders.hifigan_units import UnitMelGenerator
from lipsound2.vocoders.speaker import SpeakerTable

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """The ``train`` section of a HiFi-GAN vocoder config."""

    steps: int = 2000
    batch_size: int = 8
    segment_frames: int = 32
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    lr_decay: float = 0.999  # per epoch, as the published HiFi-GAN (an epoch: see epoch_steps)
    lambda_mel: float = 45.0
    lambda_adv: float = 1.0
    lambda_fm: float = 2.0
    discriminator_start_step: int = 0
    grad_clip: float = 10.0
    log_interval: int = 50
    checkpoint_interval: int = 1000  # steps between the resumable training checkpoints
    seed: int = 0
    # start the generator from the published HiFi-GAN V1 universal weights (the mel-only
    # vocoder with V1 generator_params; the discriminators start from scratch)
    init_pretrained: bool = False
    # steps after ``steps`` whose input mel is the GTA mel (gta_inputs) instead of the
    # ground truth's; 0: no GTA phase
    gta_steps: int = 0


GROUND_TRUTH, GTA = "ground_truth", "gta"


def phase_of(step: int, options: TrainOptions) -> str:
    """The phase step ``step`` (1-based) trains in: the first ``steps`` on the ground-truth
    mel, the ``gta_steps`` after them on the GTA mel."""
    return GROUND_TRUTH if step <= options.steps else GTA


def epoch_steps(num_utterances: int, batch_size: int) -> int:
    """Steps of one epoch: as many windows as there are training utterances (each step draws
    ``batch_size`` random windows), so the learning rate decays once per pass over the data."""
    return max(1, -(-num_utterances // batch_size))


@dataclass
class SpeakerInputs:
    """The speaker input of a mel + units vocoder (its config's ``speaker`` section)."""

    dim: int  # channels of the projected embedding at the generator's input
    embeddings: Mapping[str, np.ndarray]  # training utterance -> the 256-d embedding it trains with
    table: SpeakerTable  # what vocoding uses: the training speakers' means, the global mean


@dataclass
class UnitInputs:
    """The ground-truth units a mel + units vocoder trains on (``units`` and ``augment``
    sections of its config, ``k`` from the units' ``units.yaml``), and its optional speaker
    input."""

    table: Mapping[str, str]  # utterance -> units.scp entry, one unit per mel frame
    k: int
    dim: int = 128
    augment: MelAugment = field(default_factory=MelAugment)
    speaker: SpeakerInputs | None = None


class SegmentSampler:
    """Random aligned (mel, waveform[, units]) windows of the utterances ``wavs`` (id -> wav
    path); ``units`` (id -> units.scp entry) adds each utterance's units, which must be as
    many as its mel frames. After :meth:`use_inputs` the window's mel is cut from a given
    mel (the GTA prediction) instead of the waveform's own."""

    def __init__(
        self,
        wavs: Mapping[str, str],
        config: MelConfig,
        segment_frames: int,
        seed: int,
        units: Mapping[str, str] | None = None,
    ) -> None:
        if not wavs:
            raise ValueError("no training audio")
        if units is not None:
            missing = [key for key in wavs if key not in units]
            if missing:
                first = ", ".join(missing[:5])
                raise ValueError(f"no units for {len(missing)} training utterances, first: {first}")
        self.wavs = dict(wavs)
        self.keys = list(self.wavs)
        self.units = units
        self.config = config
        self.frames = segment_frames
        self.logmel = LogMel(config)
        self.rng = random.Random(seed)
        self.inputs: Mapping[str, str] | None = None
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = {}

    def use_inputs(self, inputs: Mapping[str, str]) -> None:
        """From now on draw the input mel from ``inputs`` (id -> feats.scp entry, front-end
        log-mel ``(frames, n_mels)`` with as many frames as the waveform's own mel), and only
        the utterances it has; the random stream goes on."""
        keys = [key for key in self.wavs if key in inputs]
        if not keys:
            raise ValueError("none of the training utterances has an input mel (the GTA feats.scp)")
        missing = len(self.wavs) - len(keys)
        if missing:
            first = next(key for key in self.wavs if key not in inputs)
            log.warning(
                "%d training utterances have no GTA mel (first: %s): trained without them", missing, first
            )
        self.keys, self.inputs = keys, inputs
        self._cache.clear()

    def _load(self, key: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if key in self._cache:
            return self._cache[key]
        wav = torch.from_numpy(read_wav(self.wavs[key], self.config.sample_rate))
        wav = wav / wav.abs().max().clamp_min(1e-8)
        with torch.no_grad():
            mel = self.logmel(wav)
        if self.inputs is not None:
            given = torch.from_numpy(np.array(load_array(self.inputs[key]), dtype=np.float32))
            if given.shape != mel.shape:
                raise ValueError(
                    f"{key}: the input mel {self.inputs[key]} is {tuple(given.shape)}, the mel of its audio "
                    f"{self.wavs[key]} {tuple(mel.shape)}: the GTA mel must be predicted for this audio's "
                    "ground-truth mel (same frames and bands)"
                )
            mel = given
        units = None
        if self.units is not None:
            units = torch.from_numpy(load_array(self.units[key]).astype(np.int64))
            if units.shape != (len(mel),):
                raise ValueError(
                    f"{key}: {tuple(units.shape)} units for {len(mel)} mel frames of {self.wavs[key]}: "
                    "the units must be computed on this audio's mel (stage 2)"
                )
        if len(self._cache) < 2000:  # small corpora stay in memory, large ones are re-read
            self._cache[key] = (mel, wav, units)
        return mel, wav, units

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, list[str]]:
        """``(B, n_mels, frames)`` mel, ``(B, 1, frames * hop)`` waveform, with units
        ``(B, frames)`` units (else None), and the windows' utterance ids."""
        hop, n = self.config.hop_length, self.frames
        mels, wavs, units = [], [], []
        keys = self.rng.choices(self.keys, k=size)
        for key in keys:
            mel, wav, unit = self._load(key)
            wav = torch.nn.functional.pad(wav, (0, max(0, (len(mel) + n) * hop - len(wav))))
            if len(mel) < n:
                if unit is not None:  # the padding frames keep the last unit (trailing silence)
                    unit = torch.cat([unit, unit[-1:].expand(n - len(mel))])
                mel = torch.cat([mel, mel.new_full((n - len(mel), mel.shape[1]), mel.min())])
            start = self.rng.randrange(0, len(mel) - n + 1)
            mels.append(mel[start : start + n].T)
            wavs.append(wav[start * hop : (start + n) * hop].unsqueeze(0))
            if unit is not None:
                units.append(unit[start : start + n])
        return torch.stack(mels), torch.stack(wavs), torch.stack(units) if units else None, keys


def train_hifigan(
    wavs: Mapping[str, str],
    outdir: str | Path,
    generator_params: dict[str, Any],
    discriminator_params: dict[str, Any],
    options: TrainOptions,
    config: MelConfig,
    units: UnitInputs | None = None,
    device: str | torch.device = "cpu",
    gta_inputs: Mapping[str, str] | None = None,
) -> list[tuple[int, float]]:
    """Train on the log-mel of ``config`` (the front end's settings) of the utterances
    ``wavs`` (id -> wav path), with ``units`` the mel + units generator, on ``device``, and
    write ``outdir/vocoder.pth``; returns the logged ``(step, mel L1)`` curve. With
    ``options.gta_steps`` the last of them take their input mel from ``gta_inputs`` (id ->
    feats.scp entry of the GTA mel), see the module's docstring.

    Every ``checkpoint_interval`` steps ``outdir/checkpoint.pth`` keeps the whole training
    state (networks, optimisers, schedules, random states); a run that finds one continues
    from it, so an interrupted training resumes where it stopped.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    torch.manual_seed(options.seed)
    speaker = None if units is None else units.speaker
    augment_rng = torch.Generator().manual_seed(options.seed)
    if options.init_pretrained and units is not None:
        raise ValueError(
            "train.init_pretrained starts the mel-only HiFi-GAN; the mel + units one has other inputs"
        )
    if options.gta_steps > 0 and gta_inputs is None:
        raise ValueError("train.gta_steps needs the GTA mel of the training utterances (--gta_feats_scp)")
    if gta_inputs is not None and options.gta_steps <= 0:
        raise ValueError("a GTA mel is given but train.gta_steps is 0: set the steps of the GTA phase")
    if gta_inputs is not None and units is not None:
        raise ValueError("the GTA phase trains the mel-only HiFi-GAN; the mel + units one augments its mel")
    total = options.steps + max(0, options.gta_steps)
    if units is None:
        generator = build_generator(generator_params, config)
        if options.init_pretrained:
            init_from_pretrained(generator)
    else:
        speaker_dim = 0 if speaker is None else speaker.dim
        generator = UnitMelGenerator(units.k, units.dim, generator_params, config, speaker_dim)
    discriminator = HiFiGANMultiScaleMultiPeriodDiscriminator(**discriminator_params)
    generator.to(device)
    discriminator.to(device)
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
    ).to(device)
    adv_g, adv_d, fm_loss_fn = GeneratorAdversarialLoss(), DiscriminatorAdversarialLoss(), FeatureMatchLoss()
    sampler = SegmentSampler(
        wavs, config, options.segment_frames, options.seed, None if units is None else units.table
    )
    nets = {"generator": generator, "discriminator": discriminator}
    stateful = {"opt_g": opt_g, "opt_d": opt_d, "sched_g": sched_g, "sched_d": sched_d}
    checkpoint = outdir / "checkpoint.pth"
    first = 1
    if checkpoint.exists():
        first = _resume(checkpoint, nets, stateful, sampler, augment_rng, device, options) + 1
        log.info("resuming %s at step %d (%s phase)", checkpoint, first, phase_of(first, options))

    curve: list[tuple[int, float]] = []
    running: list[float] = []
    with open(outdir / "train_log.tsv", "a" if first > 1 else "w", encoding="utf-8") as logf:
        if first == 1:
            logf.write("step\tmel_l1\tadv_g\tfm\tadv_d\tphase\n")
        for step in tqdm(range(first, total + 1), desc="hifigan", mininterval=5):
            phase = phase_of(step, options)
            if phase == GTA and sampler.inputs is None:
                sampler.use_inputs(gta_inputs)
                log.info("step %d: GTA phase, %d utterances", step, len(sampler.keys))
            mel, wav, unit, keys = sampler.batch(options.batch_size)
            if units is not None:  # the input mel is degraded; the losses compare with the clean audio
                mel = units.augment(mel, augment_rng)
            mel, wav = mel.to(device), wav.to(device)
            use_d = step > options.discriminator_start_step
            if units is None:
                fake = generator(mel)
            else:
                embedding = None
                if speaker is not None:
                    embedding = torch.from_numpy(np.stack([speaker.embeddings[key] for key in keys])).to(
                        device
                    )
                fake = generator(mel, unit.to(device), embedding)
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
            if use_d:
                real_loss, fake_loss = adv_d(discriminator(fake.detach()), discriminator(wav))
                loss_d = real_loss + fake_loss
                opt_d.zero_grad()
                loss_d.backward()
                torch.nn.utils.clip_grad_norm_(discriminator.parameters(), options.grad_clip)
                opt_d.step()
            if step % epoch_steps(len(sampler.keys), options.batch_size) == 0:
                sched_g.step()
                if use_d:  # the discriminators' schedule starts with them
                    sched_d.step()
            running.append(loss_mel.item())
            # the last ground-truth step closes its phase's mean: the curve does not mix phases
            if step % options.log_interval == 0 or step in (options.steps, total):
                mean = float(np.mean(running))
                running.clear()
                curve.append((step, mean))
                logf.write(
                    f"{step}\t{mean:.4f}\t{adv.item():.4f}\t{fm.item():.4f}\t{loss_d.item():.4f}\t{phase}\n"
                )
                logf.flush()
                log.info("step %d: mel L1 %.4f, lr %.3g", step, mean, opt_g.param_groups[0]["lr"])
            at_boundary = step == options.steps and total > step  # the ground-truth phase is kept
            if (step % options.checkpoint_interval == 0 or at_boundary) and step < total:
                _save_training(checkpoint, step, nets, stateful, sampler, augment_rng, phase)
    save_checkpoint(
        outdir / "vocoder.pth",
        generator.cpu(),
        generator_params,
        config,
        total,
        None if units is None else {"k": units.k, "dim": units.dim},
        None if speaker is None else {"dim": speaker.dim, **speaker.table.to_state()},
    )
    checkpoint.unlink(missing_ok=True)
    return curve


def init_from_pretrained(generator: torch.nn.Module) -> None:
    """Load the published V1 universal generator's weights into ``generator`` (strictly);
    ``ValueError`` when the generator is not of its shape."""
    from lipsound2.vocoders.hifigan_pretrained import load_generator

    try:
        generator.load_state_dict(load_generator().state_dict(), strict=True)
    except RuntimeError as exc:
        raise ValueError(
            "train.init_pretrained needs the HiFi-GAN V1 generator on 80 mel bands (the generator_params "
            f"of vocoder_hifigan.yaml and mel.n_mels 80): {' '.join(str(exc).split())[:300]}"
        ) from None
    log.info("generator initialised from the published HiFi-GAN V1 universal weights")


def _save_training(
    path: Path,
    step: int,
    nets: dict[str, torch.nn.Module],
    stateful: dict[str, Any],
    sampler: SegmentSampler,
    augment_rng: torch.Generator,
    phase: str,
) -> None:
    from lipsound2.fileio.atomic import atomic_path

    version, internal, gauss = sampler.rng.getstate()
    state = {
        "step": step,
        "phase": phase,
        **{name: net.state_dict() for name, net in nets.items()},
        **{name: obj.state_dict() for name, obj in stateful.items()},
        "sampler_rng": [version, list(internal), gauss],
        "augment_rng": augment_rng.get_state(),
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(
    path: Path,
    nets: dict[str, torch.nn.Module],
    stateful: dict[str, Any],
    sampler: SegmentSampler,
    augment_rng: torch.Generator,
    device: torch.device,
    options: TrainOptions,
) -> int:
    """Load a training checkpoint (safely: tensors and plain containers only); its step.

    A checkpoint whose recorded phase is not the one its step has under ``options`` (the
    config's steps changed since) is refused; one of the GTA phase resumes drawing GTA mel."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    step = int(state["step"])
    recorded = state.get("phase", GROUND_TRUTH)
    if recorded != phase_of(step, options):
        raise ValueError(
            f"{path}: saved at step {step} of the {recorded} phase, but train.steps {options.steps} puts "
            f"that step in the {phase_of(step, options)} phase; restore the config it was trained with "
            "or remove the checkpoint"
        )
    for name, net in nets.items():
        net.load_state_dict(state[name])
    for name, obj in stateful.items():
        obj.load_state_dict(state[name])
    for opt in (stateful["opt_g"], stateful["opt_d"]):
        for per_param in opt.state.values():
            for key, value in per_param.items():
                if torch.is_tensor(value) and value.dim() > 0:
                    per_param[key] = value.to(device)
    version, internal, gauss = state["sampler_rng"]
    sampler.rng.setstate((version, tuple(internal), gauss))
    augment_rng.set_state(state["augment_rng"])
    torch.set_rng_state(state["torch_rng"])
    return step

"""The mel + units HiFi-GAN: lengths, training on real GRID audio with k-means units, the
training-only mel augmentation, and vocoding a decode dir with its units.scp."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from lipsound2.fileio.ark import ArkWriter, load_array
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.mel import MelConfig, log_mel
from lipsound2.units import kmeans
from lipsound2.vocoders import augment as augment_module
from lipsound2.vocoders.augment import MelAugment
from lipsound2.vocoders.hifigan import HiFiGANVocoder, build_generator, save_checkpoint
from lipsound2.vocoders.hifigan_train import SegmentSampler, TrainOptions, UnitInputs, train_hifigan
from lipsound2.vocoders.hifigan_units import HiFiGANUnitsVocoder, UnitMelGenerator
from lipsound2_testing.tiny_hifigan import TINY_D, TINY_G

K = 8


@pytest.fixture(scope="module")
def grid_units(grid_wavs, tmp_path_factory):
    """k-means units (k=8) over the log-mel of the real GRID clips, one per mel frame, in an
    int32 Kaldi ark as stage 2 writes them; returns (wav table, units table, mels)."""
    mels = {p.stem: log_mel(read_wav(p, 16000)) for p in grid_wavs[:4]}
    model = kmeans.fit(np.concatenate(list(mels.values())), K, seed=0)
    out = tmp_path_factory.mktemp("units dir")
    with ArkWriter(out / "units.ark", out / "units.scp") as writer:
        for key, mel in mels.items():
            writer[key] = model.assign(mel).astype(np.int32)
    wavs = {p.stem: str(p) for p in grid_wavs[:4]}
    return wavs, read_table(out / "units.scp"), mels


def _untrained_checkpoint(path, dim=12):
    mel = MelConfig()
    generator = UnitMelGenerator(K, dim, TINY_G, mel)
    save_checkpoint(path, generator, TINY_G, mel, steps=0, units={"k": K, "dim": dim})
    return path


@pytest.mark.parametrize("frames", [1, 7, 40])
def test_generator_gives_hop_samples_per_frame_and_vocoder_the_mel_length(tmp_path, frames):
    gen = UnitMelGenerator(K, 12, TINY_G, MelConfig())
    mel = torch.randn(2, 80, frames)
    units = torch.randint(0, K, (2, frames))
    assert gen(mel, units).shape == (2, 1, frames * 256)
    vocoder = HiFiGANUnitsVocoder(_untrained_checkpoint(tmp_path / "v.pth"), MelConfig())
    wav = vocoder(np.full((frames, 80), -5.0, np.float32), np.arange(frames, dtype=np.int32) % K)
    assert wav.dtype == np.float32 and len(wav) == (frames - 1) * 256


def test_vocoder_refuses_units_of_another_length_or_range(tmp_path):
    vocoder = HiFiGANUnitsVocoder(_untrained_checkpoint(tmp_path / "v.pth"))
    mel = np.full((10, 80), -5.0, np.float32)
    with pytest.raises(ValueError, match="9 units for 10 mel frames"):
        vocoder(mel, np.zeros(9, np.int32))
    with pytest.raises(ValueError, match="integers in 0..7"):
        vocoder(mel, np.full(10, K, np.int32))


def test_each_hifigan_type_refuses_the_others_checkpoint(tmp_path):
    ckpt = _untrained_checkpoint(tmp_path / "units.pth")
    with pytest.raises(ValueError, match="use --vocoder_type hifigan_units"):
        HiFiGANVocoder(ckpt)
    mel = MelConfig()
    save_checkpoint(tmp_path / "mel.pth", build_generator(TINY_G, mel), TINY_G, mel, steps=0)
    with pytest.raises(ValueError, match="use --vocoder_type hifigan$"):
        HiFiGANUnitsVocoder(tmp_path / "mel.pth")


def test_augmentation_is_deterministic_for_a_seed_and_degrades_the_mel():
    mel = torch.from_numpy(np.random.default_rng(0).normal(-5, 2, (3, 80, 32)).astype(np.float32))
    aug = MelAugment(blur_time=2.0, blur_freq=2.0, noise_std=0.5)
    first = aug(mel, torch.Generator().manual_seed(1))
    again = aug(mel, torch.Generator().manual_seed(1))
    other = aug(mel, torch.Generator().manual_seed(2))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    assert first.shape == mel.shape and not torch.allclose(first, mel)
    # blurring smooths: neighbouring frames differ less than in the input
    assert first.diff(dim=2).abs().mean() < mel.diff(dim=2).abs().mean()
    off = MelAugment(blur_time=0, blur_freq=0, noise_std=0)(mel, torch.Generator().manual_seed(1))
    assert torch.equal(off, mel)
    with pytest.raises(ValueError, match="noise_std"):
        MelAugment(noise_std=-1)


def test_blur_of_a_constant_keeps_it_at_the_edges():
    mel = torch.full((1, 80, 10), -4.0)
    out = MelAugment(blur_time=3.0, blur_freq=3.0, noise_std=0)(mel, torch.Generator().manual_seed(0))
    assert torch.allclose(out, mel)


def test_sampler_refuses_units_of_another_length_by_name(grid_units, tmp_path):
    wavs, units, mels = grid_units
    key = next(iter(wavs))
    with ArkWriter(tmp_path / "u.ark", tmp_path / "u.scp") as writer:
        writer[key] = np.zeros(len(mels[key]) - 3, np.int32)
    sampler = SegmentSampler({key: wavs[key]}, MelConfig(), 16, 0, read_table(tmp_path / "u.scp"))
    with pytest.raises(ValueError, match=rf"{key}: \({len(mels[key]) - 3},\) units for {len(mels[key])} mel"):
        sampler.batch(1)
    with pytest.raises(ValueError, match="no units for 1 training utterances, first: other"):
        SegmentSampler({key: wavs[key], "other": wavs[key]}, MelConfig(), 16, 0, units)


def test_training_lowers_the_loss_augments_only_in_training_and_vocodes_a_decode_dir(
    grid_units, tmp_path, monkeypatch, caplog
):
    wavs, units, mels = grid_units
    calls = []
    real_call = MelAugment.__call__

    def counting(self, mel, rng):
        calls.append(mel.shape)
        return real_call(self, mel, rng)

    monkeypatch.setattr(augment_module.MelAugment, "__call__", counting)
    options = TrainOptions(
        steps=24, batch_size=2, segment_frames=16, lr=2e-3, log_interval=6, discriminator_start_step=18
    )
    inputs = UnitInputs(units, K, dim=16, augment=MelAugment(blur_time=1.0, blur_freq=1.0, noise_std=0.2))
    curve = train_hifigan(wavs, tmp_path / "exp", TINY_G, TINY_D, options, MelConfig(), inputs)
    assert len(curve) == 4
    assert curve[-1][1] < 0.85 * curve[0][1]
    assert calls == [(2, 80, 16)] * 24  # every training batch, degraded
    state = torch.load(tmp_path / "exp" / "vocoder.pth", weights_only=True)
    assert state["units"] == {"k": K, "dim": 16}

    # a decode dir as stage 5 leaves it: feats.scp and units.scp beside it
    from lipsound2.bin.vocode import main

    decode = tmp_path / "decode test"
    keys = list(mels)
    with (
        ArkWriter(decode / "data" / "feats.ark", decode / "feats.scp") as feats,
        ArkWriter(decode / "data" / "units.ark", decode / "units.scp") as unit_writer,
    ):
        for key in keys:
            feats[key] = mels[key]
        feats["short_units"] = mels[keys[0]]
        feats["no_units"] = mels[keys[1]]
        for key in keys:
            unit_writer[key] = load_array(units[key]).astype(np.int32)
        unit_writer["short_units"] = load_array(units[keys[0]]).astype(np.int32)[:-2]
    calls.clear()
    args = ["--feats_scp", str(decode / "feats.scp"), "--units_scp", str(decode / "units.scp")]
    args += ["--outdir", str(decode), "--wav_scp", str(decode / "wav.scp"), "--vocoder_type", "hifigan_units"]
    args += ["--vocoder_file", str(tmp_path / "exp" / "vocoder.pth")]
    with caplog.at_level(logging.ERROR):
        assert main(args) == 0
    assert calls == []  # no augmentation when vocoding
    written = read_table(decode / "wav.scp")
    assert sorted(written) == sorted(keys)
    for key in keys:
        assert len(read_wav(written[key], 16000)) == (len(mels[key]) - 1) * 256
    assert sorted((decode / "wav.scp.failed").read_text().split()) == ["no_units", "short_units"]
    errors = "\n".join(r.getMessage() for r in caplog.records)
    assert (
        f"short_units: {decode}" in errors
        and f"{len(mels[keys[0]]) - 2} units for {len(mels[keys[0]])}" in errors
    )
    assert "no_units:" in errors and "no units in" in errors

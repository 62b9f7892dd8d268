"""Griffin-Lim and HiFi-GAN: lengths, training, checkpoints, and the oracle path on GRID."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.mel import MelConfig, log_mel, num_frames
from lipsound2.metrics.speech import speech_scores
from lipsound2.vocoders.griffin_lim import GriffinLimVocoder
from lipsound2.vocoders.hifigan import HiFiGANVocoder
from lipsound2.vocoders.hifigan_train import TrainOptions, train_hifigan
from lipsound2_testing.tiny_hifigan import TINY_D, TINY_G


@pytest.fixture(scope="module")
def trained_hifigan(grid_wavs, tmp_path_factory):
    out = tmp_path_factory.mktemp("hifigan")
    options = TrainOptions(
        steps=24, batch_size=2, segment_frames=16, lr=2e-3, log_interval=6, discriminator_start_step=18
    )
    curve = train_hifigan({p.stem: str(p) for p in grid_wavs[:4]}, out, TINY_G, TINY_D, options, MelConfig())
    return out / "vocoder.pth", curve


@pytest.mark.parametrize("frames", [1, 2, 37, 188])
def test_griffin_lim_length_matches_mel(frames):
    mel = np.random.default_rng(0).normal(-4, 1, (frames, 80)).astype(np.float32)
    wav = GriffinLimVocoder(n_iter=2)(mel)
    assert wav.dtype == np.float32
    assert len(wav) == (frames - 1) * 256
    if frames > 1:
        assert num_frames(len(wav)) == frames


def test_griffin_lim_oracle_on_real_grid(grid_wavs):
    """Vocoded ground-truth mel of real GRID speech stays intelligible (the ceiling)."""
    estoi, pesq_wb = [], []
    for path in grid_wavs[:3]:
        wav = read_wav(path, 16000)
        wav = wav / np.abs(wav).max()
        out = GriffinLimVocoder(n_iter=32)(log_mel(wav))
        scores = speech_scores(wav, out)
        estoi.append(scores.estoi)
        pesq_wb.append(scores.pesq_wb)
    # measured 0.84 ESTOI / 3.2 PESQ-WB on bbaf2n; a broken inversion gives ESTOI near 0
    assert np.mean(estoi) > 0.7
    assert np.mean(pesq_wb) > 2.0


def test_hifigan_training_lowers_mel_loss(trained_hifigan):
    _, curve = trained_hifigan
    assert len(curve) == 4
    assert curve[-1][1] < 0.85 * curve[0][1]


def test_hifigan_checkpoint_loads_weights_only_and_matches_length(trained_hifigan, grid_wavs):
    ckpt, _ = trained_hifigan
    state = torch.load(ckpt, weights_only=True)
    assert state["mel"]["hop_length"] == 256
    vocoder = HiFiGANVocoder(ckpt)
    for frames in (1, 5, 64):
        mel = np.full((frames, 80), -5.0, np.float32)
        assert len(vocoder(mel)) == (frames - 1) * 256
    wav = read_wav(grid_wavs[0], 16000)
    out = vocoder(log_mel(wav))
    assert num_frames(len(out)) == len(log_mel(wav))
    assert np.isfinite(out).all()


def test_hifigan_rejects_foreign_checkpoint(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="not a LipSound2 HiFi-GAN checkpoint"):
        HiFiGANVocoder(path)


def test_vocode_cli_writes_wavs_and_names_bad_utterances(tmp_path, grid_wavs):
    from lipsound2.bin.vocode import main

    feats_dir = tmp_path / "dump dir"
    with ArkWriter(feats_dir / "feats.ark", feats_dir / "feats.scp") as writer:
        writer["good"] = log_mel(read_wav(grid_wavs[0], 16000))
        writer["bad"] = np.zeros((10, 3), np.float32)  # wrong number of bands
    rows = read_table(feats_dir / "feats.scp")
    rows["missing"] = str(feats_dir / "nothere.ark:5")
    write_table(feats_dir / "feats.scp", rows)
    out = tmp_path / "decode test"
    for job in (1, 2):
        assert main(
            [
                "--feats_scp",
                str(feats_dir / "feats.scp"),
                "--outdir",
                str(out),
                "--wav_scp",
                str(out / f"wav.{job}.scp"),
            ]
            + ["--job_id", str(job), "--num_jobs", "2", "--vocoder_type", "griffin_lim"]
        ) in (0, 1)
    written = {**read_table(out / "wav.1.scp"), **read_table(out / "wav.2.scp")}
    assert list(written) == ["good"]
    assert len(read_wav(written["good"], 16000)) == (len(log_mel(read_wav(grid_wavs[0], 16000))) - 1) * 256
    failed = (out / "wav.1.scp.failed").read_text().split() + (out / "wav.2.scp.failed").read_text().split()
    assert sorted(failed) == ["bad", "missing"]

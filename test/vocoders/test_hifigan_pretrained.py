"""The pre-trained HiFi-GAN V1 vocoder (``--vocoder_type hifigan_pretrained``) and its mel bridge,
on real GRID speech: the weights load strictly, our ground-truth mel comes out intelligible
(and a bridge without the frame-rate step does not), the level offset derived from the
settings is the one measured on speech, and settings the bridge cannot carry are refused."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soxr
import torch
import yaml

from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.decode import decode_audio
from lipsound2.frontend.mel import MelConfig, log_mel
from lipsound2.metrics.speech import speech_scores
from lipsound2.vocoders.factory import build_vocoder
from lipsound2.vocoders.griffin_lim import output_length
from lipsound2.vocoders.hifigan_pretrained import (
    V1_PARAMS,
    channels_last_2d,
    espnet_key,
    load_generator,
    weights_path,
)
from lipsound2.vocoders.mel_bridge import (
    HIFIGAN_V1_MEL,
    MelBridge,
    VocoderMel,
    lanczos_resample,
    slaney_filter_bank,
)
from lipsound2.vocoders.types import TRAINED_TYPES, VOCODER_TYPES

# Two clips of different sentences; the published vocoder scores 0.73-0.78 ESTOI on each of
# five such clips through the bridge (Griffin-Lim 0.81-0.84, the bridge without frame-rate
# resampling about 0).
CLIPS = ("bbaf2n", "lrik2n")


@pytest.fixture(scope="module")
def grid_speech(realdata: Path) -> list[np.ndarray]:
    """16 kHz audio of two GRID s1 clips, decoded as the front end decodes it."""
    folder = realdata / "GRID_s1" / "s1"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return [decode_audio(str(folder / f"{name}.mpg"), 16000) for name in CLIPS]


@pytest.fixture(scope="module")
def vocoder():
    return build_vocoder("hifigan_pretrained", {}, MelConfig())


def estoi(reference: np.ndarray, speech: np.ndarray) -> float:
    return speech_scores(reference[: len(speech)], speech).estoi


def test_strict_key_mapping_loads_every_weight():
    saved = torch.load(weights_path(), map_location="cpu", weights_only=True)["generator"]
    generator = load_generator()
    loaded = generator.state_dict()
    assert len(saved) == len(loaded) == 234  # 78 convolutions x (bias, weight_g, weight_v)
    assert sorted(espnet_key(k) for k in saved) == sorted(loaded)
    for key, value in saved.items():
        assert torch.equal(loaded[espnet_key(key)], value), key
    assert V1_PARAMS["upsample_scales"] == [8, 8, 2, 2]
    with pytest.raises(KeyError, match="unexpected HiFi-GAN weight"):
        espnet_key("resblocks.0.norm.weight")


def test_channels_last_2d_generator_computes_the_same():
    generator = load_generator()
    generator.remove_weight_norm()
    mel = torch.randn(1, 80, 12) - 6.0
    with torch.inference_mode():
        expected = generator.eval()(mel)
        got = channels_last_2d(generator)(mel[:, :, None, :].contiguous(memory_format=torch.channels_last))
    assert got.shape == (1, 1, 1, 12 * 256)
    torch.testing.assert_close(got.reshape(expected.shape), expected, atol=1e-5, rtol=1e-4)


def test_pretrained_is_not_a_trained_type():
    assert "hifigan_pretrained" in VOCODER_TYPES
    assert "hifigan_pretrained" not in TRAINED_TYPES


def test_ground_truth_mel_is_intelligible_and_the_frame_rate_step_matters(grid_speech, vocoder):
    wrong_vocoder = copy.copy(vocoder)
    wrong_vocoder.bridge = MelBridge(MelConfig(), HIFIGAN_V1_MEL, resample_frames=False)
    good, bad = [], []
    for wav in grid_speech:
        mel = log_mel(wav)
        speech = vocoder(mel)
        assert speech.dtype == np.float32 and len(speech) == output_length(len(mel), MelConfig())
        good.append(estoi(wav, speech))
        bad.append(estoi(wav, wrong_vocoder(mel)))
    assert min(good) > 0.6, good
    assert max(bad) < 0.3, bad


def their_own_mel(wav: np.ndarray, rate: int, theirs: VocoderMel) -> torch.Tensor:
    """The vocoder's mel of ``wav`` as its training made it: resampled, peak-normalised to
    ``theirs.peak``, frames centred on the middle of each hop."""
    wav = soxr.resample(wav, rate, theirs.sample_rate, quality="HQ").astype(np.float32)
    wav = theirs.peak * wav / np.abs(wav).max()
    pad = (theirs.n_fft - theirs.hop_length) // 2
    padded = torch.nn.functional.pad(torch.from_numpy(wav)[None, None], (pad, pad), mode="reflect")[0, 0]
    window = torch.hann_window(theirs.win_length)
    spec = torch.stft(
        padded, theirs.n_fft, theirs.hop_length, theirs.win_length, window, center=False, return_complex=True
    )
    fbank = slaney_filter_bank(theirs.sample_rate, theirs.n_fft, theirs.n_mels, theirs.f_min, theirs.f_max)
    return torch.log((fbank.T @ spec.abs()).clamp_min(theirs.clip))


def test_derived_level_offset_is_the_measured_one(grid_speech):
    bridge = MelBridge(MelConfig(), HIFIGAN_V1_MEL)
    assert bridge.level_offset == pytest.approx(0.5 * np.log(22050 / 16000) + np.log(0.95))
    for wav in grid_speech:
        bridged = bridge(log_mel(wav))
        own = their_own_mel(wav, 16000, HIFIGAN_V1_MEL)
        frames = min(bridged.shape[1], own.shape[1])
        assert abs(bridged.shape[1] - own.shape[1]) <= 1
        voiced = own[:, :frames] > np.log(1e-3)  # leave out the clipped floor
        # the bridged mel without the offset would be off by the whole offset (about 0.11)
        difference = float((own[:, :frames] - bridged[:, :frames])[voiced].median())
        assert abs(difference) < 0.04, difference
        # and it is the vocoder's mel, band by band: the bridge loses detail, not shape
        correlation = np.corrcoef(own[:, :frames][voiced].numpy(), bridged[:, :frames][voiced].numpy())[0, 1]
        assert correlation > 0.95, correlation


def test_lanczos_resampling_keeps_frames_on_their_own_times():
    frames = torch.randn(4, 9)
    torch.testing.assert_close(lanczos_resample(frames, np.arange(9.0), 3), frames)
    constant = lanczos_resample(torch.full((2, 9), -3.0), np.linspace(0, 8, 13), 3)
    torch.testing.assert_close(constant, torch.full((2, 13), -3.0))


def test_bridge_between_identical_settings_is_the_identity():
    same = MelConfig(sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256, f_max=8000.0)
    bridge = MelBridge(same, HIFIGAN_V1_MEL)
    assert torch.allclose(bridge.matrix, torch.eye(80), atol=1e-4)
    assert bridge.level_offset == pytest.approx(np.log(0.95))


def test_other_front_end_settings_are_bridged(grid_speech, vocoder):
    """Features at 24 kHz with another FFT, window, hop and band count: the bridge is built from
    the settings, so the same weights still speak."""
    other = MelConfig(
        sample_rate=24000, n_fft=2048, win_length=1200, hop_length=300, n_mels=100, f_max=12000.0
    )
    pretrained = build_vocoder("hifigan_pretrained", {}, other)
    wav24 = soxr.resample(grid_speech[0], 16000, 24000, quality="HQ").astype(np.float32)
    mel = log_mel(wav24, other)
    speech24 = pretrained(mel)
    assert len(speech24) == output_length(len(mel), other)
    speech = soxr.resample(speech24, 24000, 16000, quality="HQ").astype(np.float32)
    assert estoi(grid_speech[0], speech) > 0.6


def test_read_at_our_rate(grid_speech):
    """The generator's output read at 16 kHz (no resampling, the band ends at 5.8 kHz)."""
    ours = build_vocoder("hifigan_pretrained", {"hifigan_pretrained": {"rate": 16000}}, MelConfig())
    assert ours.bridge.level_offset == pytest.approx(np.log(0.95))
    mel = log_mel(grid_speech[1])
    assert ours(mel).shape == (output_length(len(mel), MelConfig()),)
    assert estoi(grid_speech[1], ours(mel)) > 0.6


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"f_max": 7000.0}, "mel.f_max 7000 Hz"),
        ({"sample_rate": 8000, "f_max": 4000.0}, "mel.f_max 4000 Hz"),
        ({"f_min": 400.0}, "mel.f_min 400 Hz"),
        ({"peak_normalize": False}, "mel.peak_normalize"),
    ],
)
def test_unbridgeable_settings_are_refused_by_name(settings, named):
    with pytest.raises(ValueError, match=named):
        build_vocoder("hifigan_pretrained", {}, MelConfig(**settings))


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        build_vocoder("hifigan_pretrained", {"hifigan_pretrained": {"precision": "fp8"}}, MelConfig())


def test_vocode_cli_with_the_pretrained_vocoder(grid_speech, tmp_path):
    """Stage 6's vocoding job with ``--vocoder_type hifigan_pretrained`` and no vocoder file."""
    from lipsound2.bin.vocode import main

    feats_dir = tmp_path / "dump dir"
    with ArkWriter(feats_dir / "feats.ark", feats_dir / "feats.scp") as writer:
        writer["clip"] = log_mel(grid_speech[0])
    out = tmp_path / "decode dir"
    args = [
        "--feats_scp",
        str(feats_dir / "feats.scp"),
        "--outdir",
        str(out),
        "--wav_scp",
        str(out / "wav.scp"),
    ]
    assert main(args + ["--vocoder_type", "hifigan_pretrained"]) == 0
    written = read_table(out / "wav.scp")
    assert list(written) == ["clip"]
    speech = read_wav(written["clip"], 16000)
    assert len(speech) == output_length(len(log_mel(grid_speech[0])), MelConfig())
    assert estoi(grid_speech[0], speech) > 0.6


def test_fine_tuning_starts_from_the_pretrained_generator(grid_speech, tmp_path):
    """``train.init_pretrained`` of ``lipsound2.bin.train_vocoder``: the first step's mel loss
    is that of a generator that already speaks, far below a generator from scratch."""
    from lipsound2.bin.train_vocoder import main
    from lipsound2.fileio.table import write_table
    from lipsound2.fileio.wav import write_wav

    write_wav(tmp_path / "a clip.wav", grid_speech[0], 16000)
    write_table(tmp_path / "wav.scp", {"clip": str(tmp_path / "a clip.wav")})
    params = {k: v for k, v in V1_PARAMS.items() if k not in ("in_channels", "out_channels")}
    train = {
        "steps": 1,
        "batch_size": 1,
        "segment_frames": 12,
        "discriminator_start_step": 5,
        "log_interval": 1,
    }
    first_loss = {}
    for init in (True, False):
        config = tmp_path / f"vocoder {init}.yaml"
        config.write_text(
            yaml.safe_dump({"generator_params": params, "train": {**train, "init_pretrained": init}}),
            encoding="utf-8",
        )
        out = tmp_path / f"exp {init}"
        assert (
            main(["--wav_scp", str(tmp_path / "wav.scp"), "--config", str(config), "--outdir", str(out)]) == 0
        )
        first_loss[init] = float((out / "train_log.tsv").read_text().splitlines()[1].split("\t")[1])
    assert first_loss[True] < 0.75 * first_loss[False], first_loss  # measured 0.35 against 0.67


def test_fine_tuning_refuses_a_generator_of_another_shape(grid_speech, tmp_path):
    from lipsound2.vocoders.hifigan_train import TrainOptions, train_hifigan

    options = TrainOptions(steps=1, batch_size=1, segment_frames=12, init_pretrained=True)
    with pytest.raises(ValueError, match="init_pretrained needs the HiFi-GAN V1 generator"):
        train_hifigan({}, tmp_path, {"channels": 32}, {}, options, MelConfig())

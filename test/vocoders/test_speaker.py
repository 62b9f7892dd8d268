"""The GE2E speaker encoder (Resemblyzer's shipped weights) on real GRID speech, the speaker
table a vocoder keeps, and the mel + units generator's speaker input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.decode import decode_audio
from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.hifigan import save_checkpoint
from lipsound2.vocoders.hifigan_units import HiFiGANUnitsVocoder, UnitMelGenerator
from lipsound2.vocoders.speaker import (
    EMBED_DIM,
    SpeakerEncoder,
    SpeakerTable,
    load_embeddings,
    save_embeddings,
    training_embeddings,
)
from lipsound2_testing.tiny_hifigan import TINY_G

# GRID speakers of the real clips (realdata SOURCES.md): two speakers with several clips
SPEAKER = {"bbaf2n": "s1", "pwij3p": "s2", "id2_vcd_swwp2s": "s2", "brbk7n": "s20", "lbax4n": "s5"}
SPEAKER |= {
    "lbbc2a": "s22",
    "lrwp9a": "s23",
    "lwbsza": "s4",
    "sbia1a": "s3",
    "sbwe5n": "s32",
    "swiz3n": "s26",
}
S1_MORE = ("bbal6n", "bbas1s")  # two more s1 clips of the GRID s1 folder


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder()


@pytest.fixture(scope="module")
def grid_embeddings(encoder, grid_wavs, realdata) -> dict[str, np.ndarray]:
    """Embedding of every real GRID clip (one per speaker, two of s2) and of two more s1 clips."""
    out = {p.stem: encoder(read_wav(p, 16000)) for p in grid_wavs}
    s1 = realdata / "GRID_s1" / "s1"
    if not s1.is_dir():
        pytest.skip("the GRID s1 clips are not in the real data folder")
    out |= {f"s1_{name}": encoder(decode_audio(str(s1 / f"{name}.mpg"), 16000)) for name in S1_MORE}
    return out


def test_embeddings_are_resemblyzers_deterministic_and_unit_length(encoder, grid_wavs):
    import resemblyzer

    wav = read_wav(grid_wavs[0], 16000)
    first, again = encoder(wav), SpeakerEncoder()(wav)
    assert first.shape == (EMBED_DIM,) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert abs(np.linalg.norm(first) - 1) < 1e-5 and first.min() >= 0  # rectified, then normalised
    # the same network and weights as Resemblyzer's own encoder (its loader, its preprocessing)
    theirs = resemblyzer.VoiceEncoder("cpu", verbose=False).embed_utterance(resemblyzer.preprocess_wav(wav))
    np.testing.assert_allclose(first, theirs, atol=1e-5)


def test_a_speakers_clips_are_closer_to_each_other_than_to_other_speakers(grid_embeddings):
    speaker = SPEAKER | {f"s1_{name}": "s1" for name in S1_MORE}
    keys = [k for k in grid_embeddings if k in speaker]
    assert len(keys) == len(grid_embeddings) == 13
    sim = {(a, b): float(grid_embeddings[a] @ grid_embeddings[b]) for a in keys for b in keys if a != b}
    # s1's three clips: every pair closer than any s1 clip to any of the 9 other speakers'
    # (0.81 against 0.68 here; s2's two clips are not that clearly apart: 0.776 against 0.781)
    mine = [k for k in keys if speaker[k] == "s1"]
    within = min(sim[a, b] for a in mine for b in mine if a != b)
    across = max(sim[a, b] for a in mine for b in keys if speaker[b] != "s1")
    assert within > across + 0.05, (within, across)


def test_no_voiced_audio_is_an_error(encoder):
    with pytest.raises(ValueError, match="non-silent"):
        encoder(np.zeros(16000, np.float32))
    noise = 1e-4 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    with pytest.raises(ValueError, match="voiced audio"):
        encoder(noise)


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = np.abs(rng.standard_normal(EMBED_DIM)).astype(np.float32)
    return v / np.linalg.norm(v)


def test_table_means_unknown_speakers_and_round_trip(tmp_path, caplog):
    rng = np.random.default_rng(0)
    emb = {f"u{i}": _unit(rng) for i in range(5)}
    utt2spk = {"u0": "a", "u1": "a", "u2": "a", "u3": "b", "u4": "b", "u5": "b"}
    table = SpeakerTable.from_utterances(emb, utt2spk)
    mean_a = np.mean([emb["u0"], emb["u1"], emb["u2"]], axis=0)
    np.testing.assert_allclose(table.speakers["a"], mean_a / np.linalg.norm(mean_a), rtol=1e-6)
    both = table.speakers["a"] + table.speakers["b"]  # each speaker counts once
    np.testing.assert_allclose(table.global_mean, both / np.linalg.norm(both), rtol=1e-6)
    with caplog.at_level(logging.WARNING):
        assert table("c") is table.global_mean and table("c") is table.global_mean
        assert table(None) is table.global_mean
    assert [r.getMessage() for r in caplog.records] == [
        "speaker c is not in the vocoder's training set: using the global mean"
    ]
    # u5 gave no embedding: it trains with its speaker's mean
    train = training_embeddings(["u0", "u5"], emb, utt2spk, table)
    assert train["u0"] is emb["u0"] and train["u5"] is table.speakers["b"]
    with pytest.raises(ValueError, match="no speaker in utt2spk, first: u4"):
        SpeakerTable.from_utterances(emb, {k: v for k, v in utt2spk.items() if k != "u4"})

    save_embeddings(tmp_path / "e.npz", emb)
    loaded = load_embeddings(tmp_path / "e.npz")
    assert sorted(loaded) == sorted(emb) and all(np.array_equal(loaded[k], emb[k]) for k in emb)
    torch.save(table.to_state(), tmp_path / "t.pth")
    back = SpeakerTable.from_state(torch.load(tmp_path / "t.pth", weights_only=True))
    assert back.speakers.keys() == table.speakers.keys()
    np.testing.assert_array_equal(back.global_mean, table.global_mean)


def test_generator_speaker_input_changes_the_wav_and_the_vocoder_keeps_its_table(tmp_path, grid_embeddings):
    mel = MelConfig()
    gen = UnitMelGenerator(4, 6, TINY_G, mel, speaker_dim=5)
    assert gen.hifigan.input_conv.in_channels == 80 + 6 + 5
    x, units = torch.randn(1, 80, 7), torch.randint(0, 4, (1, 7))
    with pytest.raises(ValueError, match="exactly when"):
        gen(x, units)
    with pytest.raises(ValueError, match=r"expected \(1, 256\)"):
        gen(x, units, torch.zeros(1, 128))
    table = SpeakerTable.from_utterances(
        {k: grid_embeddings[k] for k in ("bbaf2n", "pwij3p", "id2_vcd_swwp2s")},
        {"bbaf2n": "s1", "pwij3p": "s2", "id2_vcd_swwp2s": "s2"},
    )
    path = tmp_path / "v.pth"
    save_checkpoint(path, gen, TINY_G, mel, 0, {"k": 4, "dim": 6}, {"dim": 5, **table.to_state()})
    vocoder = HiFiGANUnitsVocoder(path, mel)
    assert sorted(vocoder.speakers.speakers) == ["s1", "s2"]
    log_mel, u = np.full((7, 80), -5.0, np.float32), np.arange(7) % 4
    s1, s2, unknown, none = (vocoder(log_mel, u, s) for s in ("s1", "s2", "s9", None))
    assert len(s1) == 6 * 256 and not np.array_equal(s1, s2)  # untrained: a small difference
    np.testing.assert_array_equal(unknown, none)  # an unknown speaker: the global mean
    np.testing.assert_array_equal(vocoder(log_mel, u, table.speakers["s1"]), s1)
    # a vocoder without a speaker input refuses one
    save_checkpoint(
        tmp_path / "plain.pth", UnitMelGenerator(4, 6, TINY_G, mel), TINY_G, mel, 0, {"k": 4, "dim": 6}
    )
    plain = HiFiGANUnitsVocoder(tmp_path / "plain.pth", mel)
    assert plain.speakers is None
    with pytest.raises(ValueError, match="no speaker input"):
        plain(log_mel, u, "s1")

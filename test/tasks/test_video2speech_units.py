"""``Video2Speech`` with the mel + units vocoder: it vocodes the network's predicted units, as
stage 6 does from stage 5's units.scp, also from a pack; a model without a unit head is refused.
A pack's vocoder with a speaker input speaks with its training speakers' global mean, or with
the voice of a recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lipsound2.bin import pack, speak, vocode
from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.frontend.config import load_config
from lipsound2.frontend.decode import decode_audio
from lipsound2.inference import Video2Speech, VideoSpeaker
from lipsound2.inference.video_speaker import join_units, window_bounds
from lipsound2.tasks.face_track_type import FaceTrackReader
from lipsound2.vocoders.griffin_lim import output_length
from lipsound2.vocoders.hifigan import save_checkpoint
from lipsound2.vocoders.hifigan_units import UnitMelGenerator
from lipsound2.vocoders.speaker import SpeakerEncoder, SpeakerTable
from lipsound2_testing.tiny_hifigan import TINY_G
from lipsound2_testing.tiny_lipsound2 import run_stage5, write_corpus, write_experiment

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"
K = 4
INFERENCE = {
    "stop_mode": "known_length",
    "max_decode_steps": 40,
    "batch_size": 3,
    "seed": 3,
    "precision": "fp32",
}


def _units_vocoder(path: Path, k: int = K) -> Path:
    """An untrained tiny mel + units HiFi-GAN of ``k`` units (random weights: any wav will do)."""
    mel = load_config(FRONTEND).mel
    save_checkpoint(path, UnitMelGenerator(k, 6, TINY_G, mel), TINY_G, mel, steps=0, units={"k": k, "dim": 6})
    return path


def _stage6_units(decode: Path, outdir: Path, vocoder: Path) -> int:
    """Stage 6's vocoding command on a decode dir's mel and units."""
    return vocode.main(
        ["--feats_scp", str(decode / "feats.scp"), "--units_scp", str(decode / "units.scp"),
         "--outdir", str(outdir), "--wav_scp", str(outdir / "wav.scp"),
         "--frontend_config", str(FRONTEND), "--vocoder_type", "hifigan_units",
         "--vocoder_file", str(vocoder)]
    )  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model with a unit head, a units vocoder, and stages 5 and 6 on a test set."""
    root = tmp_path_factory.mktemp("units run")
    data = write_corpus(root / "test", 5, min_frames=4, max_frames=10, seed=5)
    exp = write_experiment(root / "exp", unit_weight=1.0, num_units=K)
    (root / "inference.yaml").write_text(yaml.safe_dump(INFERENCE))
    vocoder = _units_vocoder(root / "vocoder.pth")
    out = root / "decode test"
    rc = run_stage5(exp, data, root / "inference.yaml", out)
    assert rc == 0 and (out / "units.scp").is_file()
    assert _stage6_units(out, root / "stage 6", vocoder) == 0
    return {"root": root, "data": data, "exp": exp, "out": out, "vocoder": vocoder}


def _check_against_stage6(speech: dict, run: dict[str, Path], stage6: Path | None = None) -> None:
    mels, units = read_scp(run["out"] / "feats.scp"), read_scp(run["out"] / "units.scp")
    wavs = read_table((stage6 or run["root"] / "stage 6") / "wav.scp")
    assert sorted(speech) == sorted(wavs) == sorted(mels)
    frontend = load_config(FRONTEND)
    for key, result in speech.items():
        np.testing.assert_array_equal(result.units, units[key], err_msg=key)
        np.testing.assert_allclose(result.mel, mels[key], rtol=1e-6, atol=1e-6, err_msg=key)
        assert len(result.wav) == output_length(len(result.mel), frontend.mel), key
        # stage 6 writes 16-bit PCM
        np.testing.assert_allclose(np.clip(result.wav, -1, 1), read_wav(wavs[key], 16000), atol=1.01 / 32768)


def test_the_units_vocoder_gets_the_predicted_units_as_stage_6_does(run):
    v2s = Video2Speech(
        run["exp"] / "config.yaml", run["exp"] / "model.pth", FRONTEND,
        vocoder_type="hifigan_units", vocoder_file=run["vocoder"], **INFERENCE,
    )  # fmt: skip
    tracks = dict(FaceTrackReader(str(run["data"] / "video.scp")).items())
    speech = v2s.batch(tracks)
    _check_against_stage6(speech, run)
    # the units matter: other units give another wav
    key, result = next(iter(speech.items()))
    other = v2s.vocode(result.mel, (result.units + 1) % K)
    assert not np.allclose(other, result.wav)
    with pytest.raises(ValueError, match="needs the units"):
        v2s.vocode(result.mel)


def test_windowed_speech_vocodes_the_joined_units(run):
    """A track longer than the window: the windows' units are joined with their mel, and the
    wav is the units vocoder's of both."""
    v2s = Video2Speech(
        run["exp"] / "config.yaml", run["exp"] / "model.pth", FRONTEND,
        vocoder_type="hifigan_units", vocoder_file=run["vocoder"], **INFERENCE,
    )  # fmt: skip
    track = np.concatenate(list(FaceTrackReader(str(run["data"] / "video.scp")).values()))[:20]
    speaker = VideoSpeaker(v2s, window_s=8 / v2s.fps, overlap_s=3 / v2s.fps)
    spoken = speaker.speak_track(track, "long")
    bounds = window_bounds(len(track), 8, 3)
    assert spoken.windows == len(bounds) > 1 and spoken.units.shape == (len(spoken.mel),)
    keys = {f"long@{a}": track[a:b] for a, b in bounds}
    parts = [v2s.mel(keys)[key].units for key in keys]
    per_frame = v2s.frontend.mel_per_video_frame
    np.testing.assert_array_equal(spoken.units, join_units(parts, bounds, per_frame))
    wav = v2s.vocode(spoken.mel, spoken.units)
    np.testing.assert_array_equal(spoken.wav[: len(wav)], wav)
    assert len(spoken.wav) == round(len(track) / v2s.fps * v2s.sample_rate)


def test_a_pack_carries_the_units_vocoder(run, tmp_path):
    exp = run["exp"]
    rc = pack.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--frontend_config", str(FRONTEND), "--inference_config", str(run["root"] / "inference.yaml"),
         "--vocoder_type", "hifigan_units", "--vocoder_file", str(run["vocoder"]),
         "--outpath", str(tmp_path / "units model.zip")]
    )  # fmt: skip
    assert rc == 0
    v2s = Video2Speech.from_pretrained(tmp_path / "units model.zip")
    assert v2s.meta["vocoder_type"] == "hifigan_units" and "vocoder.pth" in v2s.meta["sha256"]
    _check_against_stage6(v2s.batch(dict(FaceTrackReader(str(run["data"] / "video.scp")).items())), run)


def test_a_units_vocoder_without_a_unit_head_or_of_another_k_is_refused(run, tmp_path):
    plain = write_experiment(tmp_path / "plain exp")
    with pytest.raises(ValueError, match=r"hifigan_units \(.*vocoder\.pth\).*plain exp.*has no unit head"):
        Video2Speech(plain / "config.yaml", plain / "model.pth", FRONTEND,
                     vocoder_type="hifigan_units", vocoder_file=run["vocoder"])  # fmt: skip
    other_k = _units_vocoder(tmp_path / "k8.pth", k=8)
    with pytest.raises(ValueError, match=r"takes 8 units.*predicts 4"):
        Video2Speech(run["exp"] / "config.yaml", run["exp"] / "model.pth", FRONTEND,
                     vocoder_type="hifigan_units", vocoder_file=other_k)  # fmt: skip
    # pack refuses it too, before writing anything
    with pytest.raises(ValueError, match="has no unit head"):
        pack.main(
            ["--train_config", str(plain / "config.yaml"), "--model_file", str(plain / "model.pth"),
             "--frontend_config", str(FRONTEND), "--vocoder_type", "hifigan_units",
             "--vocoder_file", str(run["vocoder"]), "--outpath", str(tmp_path / "bad.zip")]
        )  # fmt: skip
    assert not (tmp_path / "bad.zip").exists()


@pytest.fixture(scope="module")
def speaker_vocoder(run, grid_clips) -> tuple[Path, dict[str, np.ndarray]]:
    """A units vocoder with a speaker input whose table holds two real GRID speakers (GE2E
    embeddings), its speaker projection amplified so that the speaker is heard; and the
    embeddings of the clips (stem -> embedding)."""
    mel = load_config(FRONTEND).mel
    encoder = SpeakerEncoder()
    clips = {p.stem: p for p in grid_clips if p.stem in ("bbaf2n", "pwij3p", "sbia1a")}
    embeddings = {stem: encoder(decode_audio(str(path), 16000)) for stem, path in clips.items()}
    table = SpeakerTable.from_utterances(
        {k: embeddings[k] for k in ("bbaf2n", "pwij3p")}, {"bbaf2n": "s1", "pwij3p": "s2"}
    )
    generator = UnitMelGenerator(K, 6, TINY_G, mel, speaker_dim=6)
    with torch.no_grad():
        generator.speaker.weight.mul_(300)
    path = run["root"] / "speaker vocoder.pth"
    save_checkpoint(path, generator, TINY_G, mel, 0, {"k": K, "dim": 6}, {"dim": 6, **table.to_state()})
    return path, embeddings


def test_a_pack_carries_the_speaker_table_and_speaks_with_the_global_mean_or_a_recording(
    run, speaker_vocoder, grid_clips, tmp_path, capsys
):
    vocoder, embeddings = speaker_vocoder
    out = run["out"]
    # stage 6 without utt2spk: every utterance gets the training speakers' global mean
    assert _stage6_units(out, tmp_path / "stage 6", vocoder) == 0
    exp = run["exp"]
    rc = pack.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--frontend_config", str(FRONTEND), "--inference_config", str(run["root"] / "inference.yaml"),
         "--vocoder_type", "hifigan_units", "--vocoder_file", str(vocoder),
         "--outpath", str(tmp_path / "speaker model.zip")]
    )  # fmt: skip
    assert rc == 0
    v2s = Video2Speech.from_pretrained(tmp_path / "speaker model.zip")
    assert sorted(v2s.vocoder.speakers.speakers) == ["s1", "s2"] and v2s.speaker_embedding is None
    speech = v2s.batch(dict(FaceTrackReader(str(run["data"] / "video.scp")).items()))
    _check_against_stage6(speech, run, tmp_path / "stage 6")

    # a recording of a voice: its embedding, and another wav than the global mean's
    clip = next(p for p in grid_clips if p.stem == "sbia1a")
    v2s.use_speaker_wav(clip)
    np.testing.assert_array_equal(v2s.speaker_embedding, embeddings["sbia1a"])
    key, result = next(iter(speech.items()))
    assert np.abs(v2s.vocode(result.mel, result.units) - result.wav).max() > 100 / 32768
    with pytest.raises(ValueError, match="no speaker input"):
        Video2Speech(
            exp / "config.yaml", exp / "model.pth", FRONTEND, vocoder_type="hifigan_units",
            vocoder_file=run["vocoder"],
        ).use_speaker_wav(clip)  # fmt: skip
    with pytest.raises(ValueError, match="missing.wav"):
        v2s.use_speaker_wav(tmp_path / "missing.wav")

    # lipsound2-speak: a user's video with the global mean, or with --speaker_wav's voice
    video = next(p for p in grid_clips if p.stem == "bbaf2n")
    args = [str(video), "--model", str(tmp_path / "speaker model.zip"), "--quiet"]
    assert speak.main([*args, "-o", str(tmp_path / "mean")]) == 0
    assert speak.main([*args, "--speaker_wav", str(clip), "-o", str(tmp_path / "voice")]) == 0
    mean, voice = (read_wav(tmp_path / d / "bbaf2n.wav", 16000) for d in ("mean", "voice"))
    assert len(mean) == len(voice) == 3 * 16000 and np.abs(mean - voice).max() > 100 / 32768
    assert speak.main([*args, "--speaker_wav", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "x")]) == 1
    assert "missing.wav" in capsys.readouterr().err

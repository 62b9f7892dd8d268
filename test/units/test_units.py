"""Unit extraction: k-means over content-encoder frames, one unit per mel frame.

The data dirs are made by the real stage 2 job (``extract_mel``) from generated audio, and
the HuBERT/wav2vec2 path loads a small randomly initialised torchaudio model from disk.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio
import yaml

from lipsound2.bin import extract_units
from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table, write_table
from lipsound2.frontend.mel import MelConfig
from lipsound2.units.encoders import Sources, SslEncoder, align_to_mel, make_encoder
from lipsound2.units.kmeans import UnitModel

SR = 16000
# small, with the base models' convolutional front end: 320-sample hop, 400-sample field
SMALL_SSL = {
    "extractor_mode": "group_norm",
    "extractor_conv_layer_config": [
        [16, 10, 5],
        [16, 3, 2],
        [16, 3, 2],
        [16, 3, 2],
        [16, 3, 2],
        [16, 2, 2],
        [16, 2, 2],
    ],
    "extractor_conv_bias": False,
    "encoder_embed_dim": 32,
    "encoder_projection_dropout": 0.0,
    "encoder_pos_conv_kernel": 16,
    "encoder_pos_conv_groups": 4,
    "encoder_num_layers": 3,
    "encoder_num_heads": 2,
    "encoder_attention_dropout": 0.0,
    "encoder_ff_interm_features": 64,
    "encoder_ff_interm_dropout": 0.0,
    "encoder_dropout": 0.0,
    "encoder_layer_norm_first": False,
    "encoder_layer_drop": 0.0,
    "aux_num_out": None,
}


def _speechlike(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Voiced segments of changing pitch and formant-like bands, with pauses of noise."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    wav = 0.01 * rng.standard_normal(n)
    for start in np.arange(0.1, seconds - 0.2, 0.3):
        seg = (t >= start) & (t < start + 0.2)
        f0 = rng.uniform(90, 250)
        for harmonic in range(1, 12):
            gain = np.exp(-(((harmonic * f0) - rng.uniform(300, 2500)) ** 2) / 2e5)
            wav[seg] += gain * np.sin(2 * np.pi * harmonic * f0 * t[seg])
    return (0.5 * wav / np.abs(wav).max()).astype(np.float32)


def _speech_set(num_utts: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"u{i}": _speechlike(rng, 0.8 + 0.15 * i) for i in range(num_utts)}


@pytest.fixture
def dirs(tmp_path, mel_data_dir):
    """Stage 2 data dirs: a training set and a test set."""
    return mel_data_dir(tmp_path / "tr ain", _speech_set(6, 0)), mel_data_dir(
        tmp_path / "test", _speech_set(3, 1)
    )


def _extract(*args) -> int:
    with pytest.raises(SystemExit) as exc:
        extract_units.main([str(a) for a in args])
    return exc.value.code


def _units(data_dir) -> dict[str, np.ndarray]:
    return read_scp(data_dir / "units.scp")


def _lengths_match(data_dir) -> None:
    units = _units(data_dir)
    frames = {k: int(v) for k, v in read_table(data_dir / "utt2num_frames").items()}
    assert set(units) == set(frames)
    for utt, seq in units.items():
        assert seq.dtype == np.int32 and len(seq) == frames[utt], utt


@pytest.mark.parametrize("unit_type", ["logmel", "mfcc"])
def test_units_are_deterministic_for_a_seed_and_one_per_mel_frame(dirs, tmp_path, unit_type):
    train, test = dirs
    runs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        km = tmp_path / name / "kmeans.npz"
        assert (
            _extract(
                "--unit_type",
                unit_type,
                "--kmeans",
                km,
                "--fit_dir",
                train,
                "--k",
                12,
                "--seed",
                seed,
                train,
                test,
            )
            == 0
        )
        runs.append((UnitModel.load(km), _units(train), _units(test)))
        _lengths_match(train)
        _lengths_match(test)
    (m_a, tr_a, te_a), (m_b, tr_b, te_b), (m_c, _, _) = runs
    np.testing.assert_array_equal(m_a.centroids, m_b.centroids)
    for a, b in ((tr_a, tr_b), (te_a, te_b)):
        assert all(np.array_equal(a[u], b[u]) for u in a)
    assert not np.allclose(m_a.centroids, m_c.centroids)  # another seed, another model
    # the units use the codebook: more than a handful of the 12 clusters on the training set
    assert len(np.unique(np.concatenate(list(tr_a.values())))) >= 8
    about = yaml.safe_load((test / "units.yaml").read_text())
    assert about["k"] == 12 and about["frames_per_second"] == 62.5
    assert about["encoder"]["resampled"] == "no" and about["encoder"]["frames_per_second"] == 62.5


def test_kmeans_fits_on_at_most_max_fit_frames_and_an_existing_model_is_reused(dirs, tmp_path):
    train, test = dirs
    km = tmp_path / "km.npz"
    assert (
        _extract(
            "--unit_type",
            "mfcc",
            "--kmeans",
            km,
            "--fit_dir",
            train,
            "--k",
            5,
            "--max_fit_frames",
            150,
            train,
        )
        == 0
    )
    assert UnitModel.load(km).info["fit_frames"] == 150
    before = km.stat().st_mtime_ns
    assert _extract("--unit_type", "mfcc", "--kmeans", km, test) == 0  # no --fit_dir needed
    assert km.stat().st_mtime_ns == before
    _lengths_match(test)
    with pytest.raises(SystemExit, match="fitted for unit_type mfcc, not logmel"):
        extract_units.main(["--unit_type", "logmel", "--kmeans", str(km), str(test)])


def test_align_to_mel_takes_the_nearest_50hz_frame():
    mel = MelConfig()
    enc = make_encoder("mfcc", mel)
    enc.period, enc.first_centre = 0.02, 0.0125  # HuBERT's timing: 20 ms hop, 25 ms field
    samples = 48000
    n_src = (samples - 400) // 320 + 1
    n_mel = samples // mel.hop_length + 1
    mapped = align_to_mel(np.arange(n_src), enc, n_mel, mel)
    assert len(mapped) == n_mel
    centres = 0.0125 + 0.02 * mapped
    times = np.arange(n_mel) * 0.016
    inner = (times > 0.0125) & (times < centres.max())
    assert np.all(np.abs(centres - times)[inner] <= 0.01 + 1e-9)
    assert np.all(np.diff(mapped) >= 0) and mapped[0] == 0 and mapped[-1] == n_src - 1
    with pytest.raises(ValueError, match="encoder frames"):
        align_to_mel(np.arange(n_src // 2), enc, n_mel, mel)  # half the audio: not this utterance


def _small_ssl(tmp_path, seed=0):
    torch.manual_seed(seed)
    model = torchaudio.models.wav2vec2_model(**SMALL_SSL).eval()
    ckpt = tmp_path / "my model" / "small.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), ckpt)
    config = tmp_path / "my model" / "small.yaml"
    config.write_text(yaml.safe_dump(SMALL_SSL))
    return model, ckpt, config


@pytest.mark.parametrize("kind", ["hubert", "wav2vec2"])
def test_a_checkpoint_from_disk_gives_its_layer_and_50hz_units_on_mel_frames(dirs, tmp_path, kind):
    train, test = dirs
    model, ckpt, config = _small_ssl(tmp_path)
    enc = make_encoder(kind, MelConfig(), ckpt, 2, config)
    assert isinstance(enc, SslEncoder) and enc.frames_per_second == 50 and enc.first_centre == 0.0125
    wav_spec = read_table(test / "wav.scp")["u0"]
    feats = enc.features(Sources(wav=wav_spec))
    from lipsound2.frontend.decode import load_audio

    with torch.inference_mode():
        want = model.extract_features(torch.from_numpy(load_audio(wav_spec, SR))[None])[0][1][0].numpy()
    np.testing.assert_allclose(feats, want, rtol=1e-5, atol=1e-5)

    km = tmp_path / "km.npz"
    args = ["--unit_type", kind, "--encoder_file", ckpt, "--encoder_config", config, "--layer", 2, "--k", 10]
    assert _extract(*args, "--kmeans", km, "--fit_dir", train, train, test) == 0
    _lengths_match(train)
    _lengths_match(test)
    about = yaml.safe_load((test / "units.yaml").read_text())
    assert about["encoder"]["frames_per_second"] == 50 and about["encoder"]["resampled"] == "nearest frame"
    assert about["encoder"]["layer"] == 2 and about["frames_per_second"] == 62.5
    first = _units(test)
    km2 = tmp_path / "km2.npz"
    assert _extract(*args, "--kmeans", km2, "--fit_dir", train, test) == 0
    assert all(np.array_equal(first[u], seq) for u, seq in _units(test).items())


def test_bad_checkpoints_fail_naming_the_file(tmp_path, dirs):
    _, test = dirs
    _, ckpt, config = _small_ssl(tmp_path)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    cases = [
        ((tmp_path / "missing.pt", config, 2), "missing.pt: no such hubert checkpoint"),
        ((corrupt, config, 2), "corrupt.pt: cannot load the hubert checkpoint"),
        ((ckpt, None, 2), "small.pt: does not fit torchaudio's hubert model"),  # base architecture
        ((ckpt, config, 9), "small.pt: layer 9 outside 1..3"),
    ]
    for (path, conf, layer), message in cases:
        args = ["--unit_type", "hubert", "--encoder_file", str(path), "--layer", str(layer)]
        args += ["--encoder_config", str(conf)] if conf else []
        with pytest.raises(SystemExit, match=message):
            extract_units.main(
                [*args, "--kmeans", str(tmp_path / "km.npz"), "--fit_dir", str(test), str(test)]
            )
    assert not (tmp_path / "km.npz").exists() and not (test / "units.scp").exists()


def test_an_unreadable_utterance_is_rejected_by_name_and_the_rest_go_on(dirs, tmp_path):
    train, test = dirs
    wavs = read_table(test / "wav.scp")
    bad = test / "wav" / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    wavs["u1"] = str(bad)
    write_table(test / "wav.scp", wavs)
    km = tmp_path / "km.npz"
    # one of three rejected: above a 10 % limit the step fails, but every output is whole
    assert _extract("--unit_type", "mfcc", "--kmeans", km, "--fit_dir", train, "--k", 6, train, test) == 1
    rejects = read_table(test / "units_rejects")
    assert list(rejects) == ["u1"] and "broken.wav" in rejects["u1"]
    assert set(_units(test)) == {"u0", "u2"}
    assert yaml.safe_load((test / "units.yaml").read_text())["rejected"] == 1
    assert _extract("--unit_type", "mfcc", "--kmeans", km, "--max_reject_share", 0.5, test) == 0


def test_whisper_units_are_one_per_mel_frame_and_the_same_twice(dirs, tmp_path):
    """The pinned tiny.en's encoder: 384-dim frames at 50/s, put on the mel frames; the same
    seed gives the same model and units, another seed another model."""
    _, test = dirs
    runs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        km = tmp_path / name / "kmeans.npz"
        args = ["--unit_type", "whisper", "--k", 8, "--seed", seed]
        assert _extract(*args, "--kmeans", km, "--fit_dir", test, test) == 0
        _lengths_match(test)
        runs.append((UnitModel.load(km), _units(test)))
    (m_a, u_a), (m_b, u_b), (m_c, _) = runs
    assert m_a.centroids.shape == (8, 384)
    np.testing.assert_array_equal(m_a.centroids, m_b.centroids)
    assert all(np.array_equal(u_a[u], u_b[u]) for u in u_a)
    assert not np.allclose(m_a.centroids, m_c.centroids)
    assert len(np.unique(np.concatenate(list(u_a.values())))) >= 5
    about = yaml.safe_load((test / "units.yaml").read_text())
    assert about["encoder"]["frames_per_second"] == 50 and about["encoder"]["layer"] == "last"
    assert about["encoder"]["resampled"] == "nearest frame" and about["frames_per_second"] == 62.5


def test_whisper_features_are_the_encoder_output_cut_to_the_audio_in_30s_chunks(tmp_path):
    from faster_whisper.audio import pad_or_trim

    from lipsound2.fileio.wav import write_wav

    enc = make_encoder("whisper", MelConfig())
    assert enc.frames_per_second == 50 and enc.first_centre == 0.0
    wav = _speechlike(np.random.default_rng(3), 34.0)  # two chunks: 30 s and 4 s
    path = tmp_path / "long clip.wav"
    write_wav(path, wav, SR)
    feats = enc.features(Sources(wav=str(path)))
    n_mel = len(wav) // 160  # Whisper's 10 ms frames of the audio (its last, padding frame dropped)
    assert feats.shape == ((3000 + 1) // 2 + (n_mel - 3000 + 1) // 2, 384)
    # the first 30 s as faster-whisper itself encodes a segment
    from lipsound2.frontend.decode import load_audio

    wav = load_audio(str(path), SR)  # as written to the file (16-bit)
    whisper_mel = enc.model.feature_extractor(wav / np.abs(wav).max())[:, :-1]
    first = np.asarray(enc.model.encode(pad_or_trim(whisper_mel[:, :3000])))[0]
    np.testing.assert_array_equal(feats[:1500], first)
    # the 4 s tail is its own zero-padded chunk, cut to its 200 frames
    tail = np.asarray(enc.model.encode(pad_or_trim(whisper_mel[:, 3000:])))[0]
    np.testing.assert_array_equal(feats[1500:], tail[: (n_mel - 3000 + 1) // 2])


def test_whisper_takes_no_layer_and_a_bad_model_dir_is_named(dirs, tmp_path):
    _, test = dirs
    km = str(tmp_path / "km.npz")
    with pytest.raises(SystemExit, match="whisper takes no layer .*last layer"):
        extract_units.main(
            ["--unit_type", "whisper", "--layer", "4", "--kmeans", km, "--fit_dir", str(test), str(test)]
        )
    empty = tmp_path / "not a model"
    empty.mkdir()
    with pytest.raises(SystemExit, match="not a model: not a CTranslate2 Whisper model dir"):
        extract_units.main(
            [
                "--unit_type",
                "whisper",
                "--encoder_file",
                str(empty),
                "--kmeans",
                km,
                "--fit_dir",
                str(test),
                str(test),
            ]
        )
    assert not (tmp_path / "km.npz").exists() and not (test / "units.scp").exists()

"""Packed models: ``lipsound2.bin.pack`` then ``Video2Speech.from_pretrained`` gives the mel and
wav of stages 5-6 (``bin/infer.py``, ``bin/vocode.py``); a pack whose members, versions or
names are wrong is refused with a message naming what is wrong, and nothing is unpacked."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lipsound2.bin import pack, vocode
from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.inference import Video2Speech
from lipsound2.tasks.face_track_type import FaceTrackReader
from lipsound2.vocoders.hifigan import build_generator, save_checkpoint
from lipsound2_testing.tiny_lipsound2 import run_stage5, write_corpus, write_experiment

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"
VOCODER = ROOT / "egs" / "TEMPLATE" / "conf" / "vocoder_hifigan_cpu.yaml"
# int8 weights, as the template's inference.yaml: their rounding depends on the batch, so the
# pack must decode in stage 5's batches (the batch size below comes with the pack)
INFERENCE = {
    "stop_mode": "known_length",
    "max_decode_steps": 40,
    "batch_size": 3,
    "seed": 3,
    "precision": "int8",
}
RESULTS = """# RESULTS

### Speech reconstruction

| Model | test ESTOI |
|---|---|
| LipSound2 | 0.123 |
"""


@pytest.fixture(scope="module")
def stage5(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny experiment that normalises its mel, a test set, and stage 5's output on it."""
    root = tmp_path_factory.mktemp("pack run")
    data = write_corpus(root / "dump" / "test", 7, min_frames=4, max_frames=12, seed=11)
    exp = write_experiment(root / "exp", stats_of=data / "feats.scp")
    (root / "inference.yaml").write_text(yaml.safe_dump(INFERENCE))
    (exp / "RESULTS.md").write_text(RESULTS)
    mel, params = load_config(FRONTEND).mel, load_yaml(VOCODER)["generator_params"]
    save_checkpoint(root / "vocoder.pth", build_generator(params, mel), params, mel, steps=0)  # untrained
    out = root / "decode_test"
    rc = run_stage5(exp, data, root / "inference.yaml", out)
    assert rc == 0
    return {"root": root, "data": data, "exp": exp, "out": out}


def _pack(stage5: dict[str, Path], outpath: Path, vocoder_type: str = "griffin_lim") -> Path:
    """Pack a copy of the experiment, then remove the copy: the pack must hold all it needs."""
    exp = shutil.copytree(stage5["exp"], outpath.parent / "exp copy")
    config = yaml.safe_load((exp / "config.yaml").read_text())
    config["normalize_conf"]["stats_file"] = str(exp / "feats_stats.npz")
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    vocoder = ["--vocoder_file", str(stage5["root"] / "vocoder.pth")] if vocoder_type == "hifigan" else []
    rc = pack.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--frontend_config", str(FRONTEND), "--inference_config", str(stage5["root"] / "inference.yaml"),
         "--vocoder_type", vocoder_type, "--vocoder_config", str(VOCODER), *vocoder,
         "--corpus", "tiny corpus", "--protocol", "sd", "--results", str(exp / "RESULTS.md"),
         "--outpath", str(outpath)]
    )  # fmt: skip
    assert rc == 0
    shutil.rmtree(exp)
    return outpath


@pytest.fixture(scope="module")
def packed(stage5: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _pack(stage5, tmp_path_factory.mktemp("packed") / "model.zip")


@pytest.mark.parametrize("vocoder_type", ["griffin_lim", "hifigan", "hifigan_pretrained"])
def test_a_packed_model_gives_the_mel_and_wav_of_stages_5_and_6(stage5, tmp_path, vocoder_type):
    vocoder = ["--vocoder_file", str(stage5["root"] / "vocoder.pth")] if vocoder_type == "hifigan" else []
    stage6 = tmp_path / "stage 6"
    rc = vocode.main(
        ["--feats_scp", str(stage5["out"] / "feats.scp"), "--outdir", str(stage6),
         "--wav_scp", str(stage6 / "wav.scp"), "--frontend_config", str(FRONTEND),
         "--vocoder_type", vocoder_type, "--vocoder_config", str(VOCODER), *vocoder]
    )  # fmt: skip
    assert rc == 0
    packed = _pack(stage5, tmp_path / "a model.zip", vocoder_type)

    v2s = Video2Speech.from_pretrained(packed)
    tracks = dict(FaceTrackReader(str(stage5["data"] / "video.scp")).items())
    speech = v2s.batch(tracks)
    mels, attention = read_scp(stage5["out"] / "feats.scp"), read_scp(stage5["out"] / "att_ws.scp")
    wavs = read_table(stage6 / "wav.scp")
    assert list(speech) == list(tracks) and sorted(mels) == sorted(wavs) == sorted(tracks)
    for key, result in speech.items():
        np.testing.assert_allclose(result.mel, mels[key], rtol=1e-6, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(result.attention, attention[key], rtol=1e-6, atol=1e-6, err_msg=key)
        assert result.rate == 16000
        # stage 6 writes 16-bit PCM
        np.testing.assert_allclose(np.clip(result.wav, -1, 1), read_wav(wavs[key], 16000), atol=1.01 / 32768)
    # the pack's own statistics de-normalised the mel: log-mel values, not unit-variance ones
    assert np.mean([result.mel.mean() for result in speech.values()]) < -2.0

    meta = v2s.meta
    members = {
        "config.yaml",
        "model.pth",
        "feats_stats.npz",
        "frontend.yaml",
        "inference.yaml",
        "vocoder.yaml",
    }
    members |= {"README.md", "RESULTS.md"} | ({"vocoder.pth"} if vocoder_type == "hifigan" else set())
    assert set(meta["sha256"]) == members
    assert (
        meta["vocoder_type"] == vocoder_type and meta["corpus"] == "tiny corpus" and meta["protocol"] == "sd"
    )
    assert meta["torch_version"] == str(torch.__version__) and meta["git_hash"]
    with zipfile.ZipFile(packed) as zf:
        card = zf.read("README.md").decode()
    assert "tiny corpus, protocol sd" in card and "| LipSound2 | 0.123 |" in card
    assert 'from_pretrained("a model.zip")' in card
    assert all(digest in card for name, digest in meta["sha256"].items() if name != "README.md")


def _rewrite(src: Path, dst: Path, replace: dict | None = None, add: dict | None = None) -> Path:
    """A copy of the pack ``src`` with members replaced or added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, (replace or {}).get(name, zin.read(name)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _refused(pack_file: Path, match: str, cache: Path) -> None:
    with pytest.raises(ValueError, match=match):
        Video2Speech.from_pretrained(pack_file, cache_dir=cache)
    assert not list(cache.rglob("model.pth")), "a refused pack was unpacked"


def test_a_changed_or_damaged_member_is_refused_by_name(packed, tmp_path):
    with zipfile.ZipFile(packed) as zf:
        state = torch.load(zf.open("model.pth"), weights_only=True)
        raw_model = zf.read("model.pth")
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name] + 0.01
    changed = tmp_path / "changed.pth"
    torch.save(state, changed)
    tampered = _rewrite(packed, tmp_path / "tampered.zip", {"model.pth": changed.read_bytes()})
    _refused(tampered, r"member model\.pth does not match its sha256 in meta\.yaml", tmp_path / "cache")
    # bytes flipped inside the zip: the member is named too
    raw = bytearray(packed.read_bytes())
    at = raw.find(raw_model[-200:-100])
    raw[at] ^= 0xFF
    (tmp_path / "damaged.zip").write_bytes(bytes(raw))
    _refused(tmp_path / "damaged.zip", r"member model\.pth", tmp_path / "cache")


def test_a_pack_from_another_release_is_refused(packed, tmp_path):
    with zipfile.ZipFile(packed) as zf:
        meta = yaml.safe_load(zf.read("meta.yaml"))
    for key, version, match in [
        ("lipsound2_version", "0.99.0", r"meta\.yaml: packed with lipsound2 0\.99\.0, this is lipsound2"),
        ("torch_version", "99.0.0", r"meta\.yaml: packed with torch 99\.0\.0, newer than this torch"),
        ("format", "lipsound2-pack-0", r"meta\.yaml: pack format 'lipsound2-pack-0'"),
    ]:
        other = _rewrite(
            packed, tmp_path / f"{key}.zip", {"meta.yaml": yaml.safe_dump({**meta, key: version})}
        )
        _refused(other, match, tmp_path / "cache")


def test_unsafe_or_unknown_member_names_are_refused(packed, tmp_path):
    outside = tmp_path / "escaped.txt"
    cache = tmp_path / "deep" / "cache"
    for name, match in [
        ("../../escaped.txt", "unsafe member name '../../escaped.txt'"),
        (str(outside), "unsafe member name"),
        ("run_me.py", "unexpected member 'run_me.py'"),
    ]:
        bad = _rewrite(packed, tmp_path / "bad.zip", add={name: b"print('hello')\n"})
        _refused(bad, match, cache)
        assert not outside.exists()
    with zipfile.ZipFile(packed) as zf:
        meta = yaml.safe_load(zf.read("meta.yaml"))
    meta["sha256"]["../x.yaml"] = meta["sha256"]["config.yaml"]
    bad = _rewrite(
        packed, tmp_path / "bad.zip", {"meta.yaml": yaml.safe_dump(meta)}, {"../x.yaml": b"a: 1\n"}
    )
    _refused(bad, "unsafe member name '../x.yaml'", cache)


def test_the_unpacked_copy_is_reused_and_repaired(packed, tmp_path):
    cache = tmp_path / "cache"
    first = Video2Speech.from_pretrained(packed, cache_dir=cache, vocoder_type=None)
    (unpacked,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    stamp = (unpacked / "model.pth").stat().st_mtime_ns
    Video2Speech.from_pretrained(packed, cache_dir=cache)
    assert (unpacked / "model.pth").stat().st_mtime_ns == stamp  # not unpacked again
    (unpacked / "model.pth").write_bytes(b"not a model")
    again = Video2Speech.from_pretrained(packed, cache_dir=cache, vocoder_type=None, precision="fp32")
    assert again.meta["sha256"] == first.meta["sha256"]
    assert [p.name for p in cache.iterdir()] == [unpacked.name]
    # the default cache folder sits beside the pack
    Video2Speech.from_pretrained(packed, vocoder_type=None)
    assert (packed.parent / "model.zip.unpacked" / unpacked.name / "model.pth").is_file()

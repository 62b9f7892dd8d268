"""``lipsound2.bin.infer``: batch by batch, the same mel in any batch or job, bad tracks skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lipsound2.bin import infer
from lipsound2.fileio.ark import ArkWriter, read_scp
from lipsound2.fileio.facetrack import encode_mp4, face_track_length, read_face_track
from lipsound2.fileio.table import read_table, write_table
from lipsound2.inference.video2speech import device_precision
from lipsound2_testing.tiny_lipsound2 import make_utterance, write_corpus, write_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_experiment(tmp_path_factory.mktemp("tiny exp"))


def _infer(exp: Path, data: Path, out: Path, *extra: str) -> int:
    return infer.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--data_path", str(data), "--output_dir", str(out), *extra]
    )  # fmt: skip


def _largest_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest absolute difference between two decodings of the same keys (common frames)."""
    return max(float(np.abs(a[k][: len(b[k])] - b[k][: len(a[k])]).max()) for k in a)


# fp32 and bf16: the same up to float rounding. int8 quantises each product's input with one
# scale for the whole batch (PyTorch's dynamic quantisation), and float rounding that differs
# with the batch tips some values onto the next int8 step, so there an utterance's mel moves with
# its batch: here by a quarter of what another dropout seed moves it (see docs/network.md).
@pytest.mark.parametrize(
    ("stop_mode", "precision"),
    [("known_length", "fp32"), ("visual_period", "fp32"), ("known_length", "bf16"), ("known_length", "int8")],
)
def test_an_utterance_decodes_the_same_in_any_batch_and_job(experiment, tmp_path, stop_mode, precision):
    data = write_corpus(tmp_path / "data", 7, min_frames=4, max_frames=12, seed=5)
    opts = ["--stop_mode", stop_mode, "--max_decode_steps", "40", "--precision", precision]
    assert _infer(experiment, data / "video.scp", tmp_path / "bs1", *opts, "--batch_size", "1") == 0
    assert _infer(experiment, data / "video.scp", tmp_path / "bs4", *opts, "--batch_size", "4") == 0
    # two jobs over a video.scp without utt2num_vframes: lengths from the ark headers
    alone = tmp_path / "no lengths"
    alone.mkdir()
    (alone / "video.scp").write_text((data / "video.scp").read_text())
    keys = sorted(read_table(data / "video.scp"))
    for job, part in enumerate((keys[::2], keys[1::2]), 1):
        write_table(tmp_path / f"keys.{job}", {k: "" for k in part})
        rc = _infer(experiment, alone / "video.scp", tmp_path / f"job{job}", *opts, "--batch_size", "3",
                    "--key_file", str(tmp_path / f"keys.{job}"))  # fmt: skip
        assert rc == 0
    # another seed: what the dropout's randomness alone changes
    assert _infer(experiment, data / "video.scp", tmp_path / "seed1", *opts, "--seed", "1") == 0
    single = read_scp(tmp_path / "bs1" / "feats.scp")
    batched = read_scp(tmp_path / "bs4" / "feats.scp")
    jobs = {**read_scp(tmp_path / "job1" / "feats.scp"), **read_scp(tmp_path / "job2" / "feats.scp")}
    assert sorted(single) == sorted(batched) == sorted(jobs) == keys
    assert read_table(tmp_path / "bs1" / "utt2num_frames") == read_table(tmp_path / "bs4" / "utt2num_frames")
    assert all(single[k].shape == batched[k].shape == jobs[k].shape for k in keys)
    seed_change = _largest_difference(single, read_scp(tmp_path / "seed1" / "feats.scp"))
    assert seed_change > 0.01
    att1, att4 = read_scp(tmp_path / "bs1" / "att_ws.scp"), read_scp(tmp_path / "bs4" / "att_ws.scp")
    if precision == "int8":
        assert _largest_difference(single, batched) < 0.5 * seed_change
        assert _largest_difference(single, jobs) < 0.5 * seed_change
        return
    for key in keys:
        np.testing.assert_allclose(batched[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(jobs[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(att4[key], att1[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_bad_tracks_are_listed_in_failed_and_the_rest_is_decoded(experiment, tmp_path, caplog):
    data = write_corpus(tmp_path / "data", 5, seed=6)
    table = read_table(data / "video.scp")
    garbage = tmp_path / "garbage.ark"
    garbage.write_bytes(b"\x00not an ark entry" * 10)
    rng = np.random.default_rng(0)
    with ArkWriter(tmp_path / "small.ark", tmp_path / "small.scp") as writer:
        writer["wrong_size"] = make_utterance(rng, 8, size=64)[0]  # reads, but the model cannot take it
    table["no_file"] = str(tmp_path / "missing dir" / "x.mp4")
    table["corrupt"] = f"{garbage}:0"
    table["wrong_size"] = read_table(tmp_path / "small.scp")["wrong_size"]
    write_table(data / "video.scp", table)
    # listed with a length: read (and fails) in its batch; the others fail at the header
    write_table(data / "utt2num_vframes", {**read_table(data / "utt2num_vframes"), "no_file": "9"})
    write_table(tmp_path / "keys", {k: "" for k in [*table, "not_in_scp"]})
    opts = ["--stop_mode", "known_length", "--batch_size", "3", "--key_file", str(tmp_path / "keys")]
    assert _infer(experiment, data / "video.scp", tmp_path / "out", *opts) == 0
    good = sorted(k for k in table if k.startswith("utt"))
    assert sorted(read_scp(tmp_path / "out" / "feats.scp")) == good
    assert sorted(read_table(tmp_path / "out" / "utt2num_frames")) == good
    failed = read_table(tmp_path / "out" / "failed")
    assert sorted(failed) == ["corrupt", "no_file", "not_in_scp", "wrong_size"]
    assert failed["wrong_size"] == "decoding_failed" and failed["corrupt"] == "unreadable"
    for key, path in [("no_file", "missing dir"), ("corrupt", "garbage.ark"), ("wrong_size", "small.ark")]:
        assert any(key in r.getMessage() and path in r.getMessage() for r in caplog.records), key
    # a later run without failures does not keep the old list
    write_table(tmp_path / "keys", {k: "" for k in good})
    assert _infer(experiment, data / "video.scp", tmp_path / "out", *opts) == 0
    assert not (tmp_path / "out" / "failed").exists()


def test_outputs_appear_only_when_every_utterance_was_tried(experiment, tmp_path, monkeypatch):
    data = write_corpus(tmp_path / "data", 6, seed=7)
    reads = []
    original = infer.FaceTrackReader.__getitem__

    def interrupted(self, key):
        reads.append(key)
        if len(reads) == 4:
            raise KeyboardInterrupt  # the job is killed in its second batch
        return original(self, key)

    monkeypatch.setattr(infer.FaceTrackReader, "__getitem__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _infer(experiment, data / "video.scp", tmp_path / "out", "--batch_size", "3")
    assert len(reads) == 4  # the first batch was decoded and written, under temporary names
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


# Peak resident memory of infer in a child process, 8 and 32 tracks of 190-200 frames of
# 112 x 112 gray, one per batch: a set held whole as float32 takes 10 MB per track, 240 MB more
# for the larger set (the old code's peak grew by 254 MB). Streaming, it grew by 1-11 MB
# in three runs. (In batches of 4 it grew by 42-91 MB: the freed blocks that
# lipsound2/runtime/malloc.py keeps for reuse fragment by a share of a batch's activations.)
def test_peak_memory_does_not_grow_with_the_set(experiment, tmp_path):
    peaks = {}
    for n in (8, 32):
        data = write_corpus(tmp_path / f"data{n}", n, min_frames=190, max_frames=200, seed=n)
        cmd = [sys.executable, "-m", "lipsound2.bin.infer", "--train_config", str(experiment / "config.yaml"),
               "--model_file", str(experiment / "model.pth"), "--data_path", str(data / "video.scp"),
               "--output_dir", str(tmp_path / f"out{n}"), "--batch_size", "1",
               "--stop_mode", "known_length", "--max_decode_steps", "3"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        child = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stderr = child.stderr.read().decode()
        _, status, usage = os.wait4(child.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, stderr[-3000:]
        assert len(read_table(tmp_path / f"out{n}" / "feats.scp")) == n
        peaks[n] = usage.ru_maxrss * 1024  # kB on Linux
    grown = peaks[32] - peaks[8]
    assert grown < 40e6, f"peak resident memory {peaks[8] / 1e6:.0f} MB -> {peaks[32] / 1e6:.0f} MB"


def test_track_lengths_come_from_the_headers(tmp_path):
    rng = np.random.default_rng(0)
    tracks = {"gray": make_utterance(rng, 13)[0], "rgb": rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)}
    with ArkWriter(tmp_path / "t.ark", tmp_path / "t.scp") as writer:
        for key, track in tracks.items():
            writer[key] = track
        writer["matrix"] = np.zeros((9, 80), np.float32)
    encode_mp4(tmp_path / "a b.mp4", tracks["gray"])
    specs = {**read_table(tmp_path / "t.scp"), "mp4": str(tmp_path / "a b.mp4")}
    for key, spec in specs.items():
        assert face_track_length(spec) == len(read_face_track(spec)), key
    # only the header is read: a track whose data is cut off still gives its length
    cut = tmp_path / "cut.ark"
    cut.write_bytes((tmp_path / "t.ark").read_bytes()[: int(specs["gray"].rpartition(":")[2]) + 200])
    assert face_track_length(f"{cut}:{specs['gray'].rpartition(':')[2]}") == 13


def test_track_length_of_real_grid_clips(grid_clips):
    for clip in grid_clips[:2]:
        assert face_track_length(str(clip)) == len(read_face_track(str(clip))) == 75


def test_a_unit_head_writes_units_beside_the_mel(tmp_path):
    exp = write_experiment(tmp_path / "units exp", unit_weight=1.0, num_units=4)
    data = write_corpus(tmp_path / "data", 5, seed=8)
    opts = ["--stop_mode", "known_length", "--batch_size", "2"]
    assert _infer(exp, data / "video.scp", tmp_path / "out", *opts) == 0
    mels, units = read_scp(tmp_path / "out" / "feats.scp"), read_scp(tmp_path / "out" / "units.scp")
    assert sorted(units) == sorted(mels) == sorted(read_table(data / "video.scp"))
    for key, mel in mels.items():
        assert units[key].dtype == np.int32 and units[key].shape == (len(mel),), key
        assert units[key].min() >= 0 and units[key].max() < 4
    # a model without a head leaves no units behind, not even an earlier run's
    plain = write_experiment(tmp_path / "plain exp")
    assert _infer(plain, data / "video.scp", tmp_path / "out", *opts) == 0
    assert not (tmp_path / "out" / "units.scp").exists()


def test_a_gpu_decodes_int8_in_fp32_the_cpu_keeps_it():
    """One rule, in Video2Speech, for stage 5, packs and lipsound2-speak alike."""
    assert device_precision(torch.device("cuda", 0), "int8") == "fp32"
    assert device_precision(torch.device("cuda"), "bf16") == "bf16"
    assert device_precision(torch.device("cpu"), "int8") == "int8"


def test_decoding_face_tracks_needs_no_video_reader(root):
    """A decoding job (a GPU node, say) reads face tracks only: PyAV must not be needed there."""
    code = (
        "import sys; sys.modules['av'] = None\n"  # any `import av` now fails
        "from lipsound2.inference import Video2Speech\n"
        "from lipsound2.bin import infer\n"
        "import lipsound2.inference as api\n"
        "try:\n    api.VideoSpeaker\nexcept ImportError:\n    print('video api needs av')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == "video api needs av"  # imported on first use, not before

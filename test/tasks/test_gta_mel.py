"""``lipsound2.bin.gta_mel``: the teacher-forced mel of a trained model over a dump set has the
ground truth's frames, is nearer to it than a free-running decode, survives a broken track and
takes the stage scripts' job split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from lipsound2.bin import gta_mel
from lipsound2.fileio.ark import read_scp
from lipsound2.fileio.table import read_table, write_table
from lipsound2.tasks.checkpoint import load_model
from lipsound2.tasks.face_track_type import FaceTrackReader
from lipsound2_testing.tiny_lipsound2 import FRONTEND, run_stage5, write_corpus, write_experiment


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny model that normalises its mel, trained 40 steps on its 8-utterance set: the
    experiment dir and the set."""
    root = tmp_path_factory.mktemp("gta mel")
    data = write_corpus(root / "train", 8, seed=1)
    exp = write_experiment(
        root / "exp",
        stats_of=data / "feats.scp",
        stop_mode="known_length",
        guided_attention_weight=5.0,
        guided_attention_sigma=0.2,
    )
    model, _ = load_model(exp / "config.yaml", exp / "model.pth", FRONTEND)
    reader, feats = FaceTrackReader(str(data / "video.scp")), read_scp(data / "feats.scp")
    keys = sorted(feats)
    vl = torch.tensor([len(reader[k]) for k in keys])
    fl = torch.tensor([len(feats[k]) for k in keys])
    video = torch.zeros(len(keys), int(vl.max()), 112, 112)
    mel = torch.zeros(len(keys), int(fl.max()), 80)
    for i, key in enumerate(keys):
        video[i, : vl[i]] = torch.from_numpy(np.array(reader[key], dtype=np.float32))
        mel[i, : fl[i]] = torch.from_numpy(np.array(feats[key]))
    torch.manual_seed(0)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss, _, _ = model(video, vl, mel.clone(), fl)  # the normaliser works in place
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
    torch.save(model.state_dict(), exp / "model.pth")
    return exp, data


def _gta(exp: Path, data: Path, out: Path, *extra: str) -> int:
    return gta_mel.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--frontend_config", str(FRONTEND), "--data_path", str(data / "video.scp"),
         "--feats_scp", str(data / "feats.scp"), "--output_dir", str(out), *extra]
    )  # fmt: skip


def test_gta_mel_has_the_truth_frames_and_is_nearer_to_it_than_free_decoding(trained, tmp_path):
    exp, data = trained
    assert _gta(exp, data, tmp_path / "gta", "--batch_size", "3") == 0
    config = tmp_path / "inference.yaml"
    config.write_text("stop_mode: known_length\n")
    assert run_stage5(exp, data, config, tmp_path / "free") == 0
    truth, gta = read_scp(data / "feats.scp"), read_scp(tmp_path / "gta" / "feats.scp")
    free = read_scp(tmp_path / "free" / "feats.scp")
    assert sorted(gta) == sorted(truth)
    errors = {"gta": [], "free": []}
    for key, ref in truth.items():
        assert gta[key].shape == ref.shape, key
        n = min(len(ref), len(free[key]))
        errors["gta"].append(float(np.mean((gta[key] - ref) ** 2)))
        errors["free"].append(float(np.mean((free[key][:n] - ref[:n]) ** 2)))
    # measured 1.2 against 10.6 (mean squared log-mel error, the front end's scale)
    assert np.mean(errors["gta"]) < 0.4 * np.mean(errors["free"]), errors
    assert np.mean(errors["gta"]) < 3.0, errors  # de-normalised: the scale is the truth's
    assert read_table(tmp_path / "gta" / "utt2num_frames") == {k: str(len(v)) for k, v in truth.items()}
    assert (tmp_path / "gta" / "frontend.yaml").is_file()  # what train_vocoder checks the audio against
    assert not (tmp_path / "gta" / "failed").exists()


def test_a_broken_track_is_named_and_the_rest_is_written(trained, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    exp, data = trained
    broken = tmp_path / "broken set"
    broken.mkdir()
    table = read_table(data / "video.scp")
    (broken / "garbage.ark").write_bytes(b"not an archive")
    table["utt003"] = f"{broken / 'garbage.ark'}:0"
    write_table(broken / "video.scp", table)
    feats = read_table(data / "feats.scp")
    del feats["utt005"]
    write_table(broken / "feats.scp", feats)
    assert _gta(exp, broken, tmp_path / "out", "--batch_size", "4") == 0
    written = read_scp(tmp_path / "out" / "feats.scp")
    assert sorted(written) == sorted(set(table) - {"utt003", "utt005"})
    assert read_table(tmp_path / "out" / "failed") == {"utt003": "unreadable", "utt005": "unreadable"}
    errors = "\n".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert "utt003" in errors and "utt005" in errors
    assert "2 failed" in caplog.text


def test_jobs_split_the_keys_as_the_stage_scripts_do(trained, tmp_path):
    exp, data = trained
    keys = list(read_table(data / "video.scp"))
    write_table(tmp_path / "keys.2.scp", {key: "" for key in keys[:6]})
    assert _gta(exp, data, tmp_path / "key file", "--key_file", str(tmp_path / "keys.2.scp")) == 0
    assert sorted(read_scp(tmp_path / "key file" / "feats.scp")) == keys[:6]
    assert _gta(exp, data, tmp_path / "job 2", "--job_id", "2", "--num_jobs", "3") == 0
    assert sorted(read_scp(tmp_path / "job 2" / "feats.scp")) == keys[1::3]

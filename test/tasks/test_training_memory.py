"""Memory over a whole training: ESPnet's trainer, run by ``lipsound2.bin.train``, must not keep
anything of an epoch alive once the epoch is over, and a forward pass that is never
backpropagated must not leak its graph either."""

from __future__ import annotations

import gc
from pathlib import Path

import torch
import yaml

from lipsound2.bin import train
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.step_linear import StepLinear
from lipsound2_testing.tiny_lipsound2 import TINY_MODEL_CONF, write_corpus


def _live_tensors() -> int:
    gc.collect()
    # type(), not isinstance(): the latter dereferences weak proxies, dead ones raise
    return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))


def _resident_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_trainer_memory_is_flat_over_epochs(tmp_path: Path):
    # GRID-length utterances: 75 frames of 112x112 gray, 3.8 MB of float32 video each, so that
    # anything kept per utterance shows in resident memory, not only in the tensor count
    corpus = tmp_path / "corpus"
    write_corpus(corpus / "train", 8, min_frames=75, max_frames=75, seed=1)
    write_corpus(corpus / "valid", 2, min_frames=75, max_frames=75, seed=2)
    config = tmp_path / "conf.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_conf": TINY_MODEL_CONF,
                "optim": "adam",
                "optim_conf": {"lr": 0.001},
                "batch_type": "sorted",
                "batch_size": 4,
                "num_att_plot": 0,
                "num_workers": 0,
                "keep_nbest_models": 1,
                "best_model_criterion": [["valid", "loss", "min"]],
            }
        )
    )
    args = ["--config", str(config), "--output_dir", str(tmp_path / "exp"), "--ngpu", "0", "--resume", "true"]
    for split in ("train", "valid"):
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'video.scp'},video,face_track"]
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'feats.scp'},feats,kaldi_ark"]
        args += [f"--{split}_shape_file", str(corpus / split / "video_shape")]
    measured = {}
    for epochs in (2, 4):  # the second call resumes and trains epochs 3-4 in the same process
        train.main([*args, "--max_epoch", str(epochs)])
        measured[epochs] = (_live_tensors(), _resident_mb())
    (tensors_2, rss_2), (tensors_4, rss_4) = measured[2], measured[4]
    # before the fix: about 1,100 tensors and 18 MB kept per update (4 updates in epochs 3-4)
    assert tensors_4 - tensors_2 <= 20, measured
    assert rss_4 - rss_2 < 40.0, measured


def test_forward_without_backward_frees_its_graph():
    torch.manual_seed(0)
    model = LipSound2(**TINY_MODEL_CONF).train()
    batch = {
        "video": torch.randint(0, 256, (2, 8, 112, 112)).float(),
        "video_lengths": torch.tensor([8, 6]),
        "feats": torch.randn(2, 20, 80),
        "feats_lengths": torch.tensor([20, 15]),
    }
    model(**batch)  # warm-up: lazily made objects are not a leak
    before = _live_tensors()
    for _ in range(3):
        loss, _, _ = model(**batch)
        del loss
    assert _live_tensors() - before <= 2


def test_step_records_are_emptied_by_backward():
    layer = torch.nn.Linear(4, 3)
    proj = StepLinear(layer)
    ys = [proj(torch.randn(2, 4, requires_grad=True)) for _ in range(3)]
    assert proj.steps.records == {}  # forward keeps no graph tensors in the record
    sum(y.sum() for y in ys).backward()
    assert proj.steps.records == {} and proj.steps.weight_t is None

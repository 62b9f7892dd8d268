"""A tiny generated audio-visual corpus where each mel frame follows its video frame, and the
tiny model (``lipsound2.nets.tiny``) as training leaves it.

Every video frame shows a bright 'mouth' whose height encodes one of ``visemes`` states;
the mel frames synchronous with it (2.5 per video frame) are that state's template plus
noise. A model that learns the mapping must attend along the diagonal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from espnet2.layers.global_mvn import GlobalMVN

from lipsound2.bin import infer
from lipsound2.bin.feats_stats import feats_stats
from lipsound2.fileio.ark import ArkWriter
from lipsound2.fileio.table import write_table
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.tiny import TINY_MODEL_CONF
from lipsound2_testing.trainer import NO_PLOTS

MEL_PER_FRAME = 2.5


def make_utterance(rng: np.random.Generator, frames: int, size: int = 112, visemes: int = 4):
    video, mel, _ = make_utterance_with_units(rng, frames, size, visemes)
    return video, mel


def make_utterance_with_units(rng: np.random.Generator, frames: int, size: int = 112, visemes: int = 4):
    """Video, mel and the units of the mel frames: each frame's state (``visemes`` units)."""
    states = rng.integers(0, visemes, frames)
    video = np.full((frames, size, size), 40, dtype=np.uint8)
    for t, s in enumerate(states):
        height = 6 + 10 * int(s)
        top = size // 2 - height // 2
        video[t, top : top + height, size // 4 : 3 * size // 4] = 220
    templates = np.linspace(-8.0, -1.0, visemes)[:, None] + np.sin(
        np.arange(80)[None, :] * (1 + np.arange(visemes))[:, None] / 9.0
    )
    n_mel = int(np.floor(frames * MEL_PER_FRAME))
    index = np.minimum((np.arange(n_mel) / MEL_PER_FRAME).astype(int), frames - 1)
    mel = templates[states[index]] + 0.05 * rng.standard_normal((n_mel, 80))
    return video, mel.astype(np.float32), states[index].astype(np.int32)


def write_corpus(
    out: Path, n_utts: int, min_frames: int = 6, max_frames: int = 10, seed: int = 0, units: bool = False
) -> Path:
    """Write ``video.scp`` (ark), ``feats.scp``, ``utt2num_vframes``, ``utt2num_frames`` and
    ESPnet shape files ``video_shape``/``feats_shape`` under ``out``; with ``units`` also
    ``units.scp`` (int vectors, one of 4 units per mel frame) and its ``units.yaml`` (k 4)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    vframes, mframes, unit_arrays = {}, {}, {}
    with (
        ArkWriter(out / "video.ark", out / "video.scp") as vw,
        ArkWriter(out / "feats.ark", out / "feats.scp") as fw,
    ):
        for i in range(n_utts):
            key = f"utt{i:03d}"
            video, mel, unit_arrays[key] = make_utterance_with_units(
                rng, int(rng.integers(min_frames, max_frames + 1))
            )
            vw[key] = video
            fw[key] = mel
            vframes[key], mframes[key] = str(len(video)), str(len(mel))
    if units:
        with ArkWriter(out / "units.ark", out / "units.scp") as uw:
            for key, array in unit_arrays.items():
                uw[key] = array
        (out / "units.yaml").write_text(yaml.safe_dump({"unit_type": "states", "k": 4}))
    write_table(out / "utt2num_vframes", vframes)
    write_table(out / "utt2num_frames", mframes)
    write_table(out / "video_shape", {k: f"{v},112,112" for k, v in vframes.items()})
    write_table(out / "feats_shape", {k: f"{v},80" for k, v in mframes.items()})
    return out


def write_experiment(exp: Path, stats_of: Path | None = None, **model_conf) -> Path:
    """An untrained tiny model as training leaves it: ``config.yaml`` and ``model.pth`` in ``exp``.

    Its biases are drawn at random (Xavier initialisation zeroes them) and its PreNet keeps
    dropout 0.5 at inference, so the dropout's random stream shows. With ``stats_of`` (a
    ``feats.scp``) it normalises its mel with that set's statistics, which it keeps in
    ``exp/feats_stats.npz`` as stage 4 does. ``model_conf``: more model settings (a unit head)."""
    exp.mkdir(parents=True, exist_ok=True)
    conf = {**TINY_MODEL_CONF, **model_conf}
    config: dict = {"model_conf": conf}
    normalize = None
    if stats_of is not None:
        np.savez(exp / "feats_stats.npz", **feats_stats(stats_of))
        config |= {"normalize": "global_mvn", "normalize_conf": {"stats_file": str(exp / "feats_stats.npz")}}
        normalize = GlobalMVN(exp / "feats_stats.npz")
    torch.manual_seed(0)
    model = LipSound2(**conf, normalize=normalize)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.3)
    torch.save(model.state_dict(), exp / "model.pth")
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    return exp


def train_config(tmp: Path, **overrides) -> Path:
    """``tmp/conf.yaml``: an ESPnet training config of the tiny model (scheduled sampling rising
    to 0.3 over updates 1-4, Adam on a cosine schedule, batches of 4), with ``overrides``."""
    conf = {
        "model_conf": {**TINY_MODEL_CONF, "ss_max_prob": 0.3, "ss_start_step": 1, "ss_end_step": 4},
        "optim": "adam",
        "optim_conf": {"lr": 0.003},
        "scheduler": "cosineannealinglr",
        "scheduler_conf": {"T_max": 3},
        "grad_clip": 1.0,
        "batch_type": "sorted",
        "batch_size": 4,
        "num_att_plot": 0,
        **NO_PLOTS,
        "num_workers": 0,
        "best_model_criterion": [["valid", "loss", "min"]],
        "keep_nbest_models": 1,
        "seed": 3,
    }
    conf.update(overrides)
    path = tmp / "conf.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def train_args(corpus: Path, out: Path, config: Path) -> list[str]:
    """``lipsound2.bin.train``'s arguments: ``config`` on ``corpus``/{train,valid} (as
    ``write_corpus`` leaves them), on the CPU, into ``out``."""
    args = ["--config", str(config), "--output_dir", str(out), "--ngpu", "0"]
    for split in ("train", "valid"):
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'video.scp'},video,face_track"]
        args += [f"--{split}_data_path_and_name_and_type", f"{corpus / split / 'feats.scp'},feats,kaldi_ark"]
        args += [f"--{split}_shape_file", str(corpus / split / "video_shape")]
    return args


FRONTEND = Path(__file__).resolve().parents[2] / "egs" / "TEMPLATE" / "conf" / "frontend.yaml"


def run_stage5(exp: Path, data: Path, config: Path, out: Path) -> int:
    """Stage 5's command on ``data``'s video.scp with the experiment's model and the inference
    config ``config``."""
    return infer.main(
        ["--train_config", str(exp / "config.yaml"), "--model_file", str(exp / "model.pth"),
         "--frontend_config", str(FRONTEND), "--inference_config", str(config),
         "--data_path", str(data / "video.scp"), "--output_dir", str(out)]
    )  # fmt: skip

"""Does a LipSound2 config learn to use the video? Train it briefly and look.

Not a test: run by hand in a recipe directory whose stages 1-2 are done; the figures of
docs/network.md ("Learning from video in 300 updates") come from it. For example, in
egs/mini_grid after ``./run.sh --stop_stage 2``:

  python ../../bench/video_reliance.py --config conf/train.yaml --train_set voxceleb2_train \\
      --updates 300 --save pre.pth
  python ../../bench/video_reliance.py --config conf/train.yaml --init pre.pth --updates 300

It trains the network class directly on the face tracks and mel of ``dump/<train_set>``
(random batches, Adam, cosine decay, gradient clipping 1, the task's own preprocessing:
gray or colour by the config's ``in_channels``, horizontal flips with ``--hflip_prob``, mel
targets normalised with the training set's statistics unless ``--no_normalize``), then
reports on ``dump/<test_set>`` (use the dev set when choosing a config):

- the teacher-forced decoder MSE with the real video and with every frame gray ("blank
  in"): the gap is how much the model relies on the video;
- the share of free-running attention within 2 video frames of the diagonal;
- ESTOI of Griffin-Lim speech from the free-running mel against the recorded audio.

``--set key=value`` overrides ``model_conf`` keys (dotted for nested ones, values in YAML),
e.g. ``--set decoder_conf.reduction_factor=2 --set encoder_mel_weight=0``. ``--blank_video``
trains and tests on gray frames (the no-visual-information baseline). ``--device cuda``
trains on a GPU (evaluation stays on the CPU); where the scoring packages are missing,
``--mels_out`` keeps the free-running mel for ``--score_mels`` to score elsewhere.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from espnet2.layers.global_mvn import GlobalMVN

from lipsound2.bin.feats_stats import feats_stats
from lipsound2.fileio.ark import load_array
from lipsound2.fileio.facetrack import read_face_track
from lipsound2.fileio.table import read_table
from lipsound2.fileio.wav import read_wav
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import load_config
from lipsound2.frontend.mel import MelConfig
from lipsound2.nets.alignment import diagonal_share
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.tasks.preprocess import FaceTrackPreprocessor
from lipsound2.vocoders.griffin_lim import GriffinLimVocoder

Utterance = tuple[str, np.ndarray, np.ndarray]


def load_set(dump: Path, preprocess: FaceTrackPreprocessor) -> list[Utterance]:
    """(key, uint8 track as the model's channels, mel) of every utterance of a dump dir."""
    videos, feats = read_table(dump / "video.scp"), read_table(dump / "feats.scp")
    gray = preprocess.channels == 1
    return [(key, read_face_track(videos[key], gray=gray), load_array(feats[key])) for key in videos]


def override(conf: dict, assignments: list[str]) -> dict:
    for assignment in assignments:
        key, value = assignment.split("=", 1)
        *parents, leaf = key.split(".")
        node = conf
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = yaml.safe_load(value)
    return conf


def make_batch(
    utts: list[Utterance], preprocess: FaceTrackPreprocessor, blank: bool = False
) -> tuple[torch.Tensor, ...]:
    """Padded ``(video, video_lengths, feats, feats_lengths)``; ``blank`` grays every frame."""
    videos = [preprocess(key, {"video": v})["video"] for key, v, _ in utts]
    if blank:
        videos = [np.full_like(v, preprocess.blank_value) for v in videos]
    frames, mels = max(len(v) for v in videos), max(len(m) for _, _, m in utts)
    video = np.zeros((len(utts), frames, *videos[0].shape[1:]), np.float32)
    feats = np.zeros((len(utts), mels, utts[0][2].shape[1]), np.float32)
    for i, (v, (_, _, m)) in enumerate(zip(videos, utts)):
        video[i, : len(v)] = v
        feats[i, : len(m)] = m
    return (
        torch.from_numpy(video),
        torch.tensor([len(v) for _, v, _ in utts]),
        torch.from_numpy(feats),
        torch.tensor([len(m) for _, _, m in utts]),
    )


def train(
    model: LipSound2,
    utts: list[Utterance],
    preprocess: FaceTrackPreprocessor,
    options: argparse.Namespace,
) -> float:
    updates, device = options.updates, options.device
    optim = torch.optim.Adam(model.parameters(), lr=options.lr)
    model.count_updates(optim)  # scheduled sampling follows the updates, as in the task
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=updates, eta_min=1e-4)
    start = time.perf_counter()
    model.train()
    for step in range(updates):
        pick = np.random.choice(len(utts), min(options.batch_size, len(utts)), replace=False)
        batch = make_batch([utts[i] for i in pick], preprocess)
        loss, stats, _ = model(*(t.to(device) for t in batch))
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        if step % 25 == 0 or step == updates - 1:
            shown = {k: round(float(v), 3) for k, v in stats.items()}
            print(f"update {step} ({time.perf_counter() - start:.0f} s): {shown}", flush=True)
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(
    model: LipSound2, utts: list[Utterance], preprocess: FaceTrackPreprocessor, blank: bool
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Teacher-forced losses with the video and with gray frames, the free-running attention's
    diagonal share, and the free-running mel of every utterance (on the CPU)."""
    model.cpu().eval()
    sums = {"tf_dec_loss": [], "tf_dec_loss_blank_in": [], "free_running_diag": []}
    mels = {}
    for i in range(0, len(utts), 2):  # small batches keep the memory low
        chunk = utts[i : i + 2]
        video, vl, feats, fl = make_batch(chunk, preprocess, blank=blank)
        sums["tf_dec_loss"].append(float(model(video, vl, feats.clone(), fl)[1]["dec_loss"]))
        gray = make_batch(chunk, preprocess, blank=True)
        sums["tf_dec_loss_blank_in"].append(float(model(*gray[:2], feats.clone(), fl)[1]["dec_loss"]))
        out = model.generate(video, vl, stop_mode="known_length")
        steps = model.decoder.num_steps(out["mel_lengths"])
        sums["free_running_diag"].append(float(diagonal_share(out["attention"], vl, steps).mean()))
        for j, (key, _, _) in enumerate(chunk):
            mels[key] = out["mel"][j, : int(out["mel_lengths"][j])].numpy()
    return {k: round(float(np.mean(v)), 4) for k, v in sums.items()}, mels


def estoi(mels: dict[str, np.ndarray], wav_scp: Path, mel: MelConfig) -> float:
    """Mean ESTOI of Griffin-Lim speech from ``mels`` against the recorded audio."""
    from lipsound2.metrics.speech import SAMPLE_RATE, speech_scores

    wavs, vocoder = read_table(wav_scp), GriffinLimVocoder(mel)
    scores = []
    for key, m in mels.items():
        speech, ref = vocoder(m), read_wav(wavs[key], SAMPLE_RATE)
        n = min(len(ref), len(speech))
        scores.append(speech_scores(ref[:n], speech[:n]).estoi)
    return round(float(np.mean(scores)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=Path("conf/train.yaml"))
    parser.add_argument("--frontend_config", type=Path, default=Path("conf/frontend.yaml"))
    parser.add_argument("--set", action="append", default=[], help="model_conf override key=value")
    parser.add_argument("--dumpdir", type=Path, default=Path("dump"))
    parser.add_argument("--train_set", default="train_sd")
    parser.add_argument("--test_set", default="test_sd")
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--init", type=Path, help="state dict to start from (the statistics come with it)")
    parser.add_argument("--save", type=Path, help="write the trained state dict here")
    parser.add_argument("--no_normalize", action="store_true", help="learn raw log-mel targets")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hflip_prob", type=float, default=0.5)
    parser.add_argument("--blank_video", action="store_true", help="train and test on gray frames")
    parser.add_argument("--device", default="cpu", help="where to train (cpu, cuda)")
    parser.add_argument("--mels_out", type=Path, help="keep the free-running mel here (.npz)")
    parser.add_argument("--no_score", action="store_true", help="no ESTOI (scoring packages missing)")
    parser.add_argument("--score_mels", type=Path, help="only score a --mels_out file of the test set")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    frontend = load_config(args.frontend_config)
    test = args.dumpdir / args.test_set
    if args.score_mels:
        with np.load(args.score_mels) as saved:
            mels = {key: saved[key] for key in saved.files}
        score = estoi(mels, test / "wav.scp", frontend.mel)
        print(json.dumps({"mels": str(args.score_mels), "estoi": score}))
        return
    conf = override(load_yaml(args.config)["model_conf"], args.set)
    conf.setdefault("n_mels", frontend.mel.n_mels)
    conf.setdefault("mel_per_video_frame", frontend.mel_per_video_frame)
    normalize = None
    if not args.no_normalize:
        with tempfile.TemporaryDirectory() as tmp:  # GlobalMVN reads the file when built
            np.savez(Path(tmp) / "stats.npz", **feats_stats(args.dumpdir / args.train_set / "feats.scp"))
            normalize = GlobalMVN(str(Path(tmp) / "stats.npz"))
    model = LipSound2(**conf, normalize=normalize)
    model.check_features(frontend.mel.n_mels, frontend.mel_per_video_frame, str(args.frontend_config))
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    model.to(args.device)
    channels = model.in_channels
    trainer = FaceTrackPreprocessor(True, channels, args.hflip_prob, blank_video=args.blank_video)
    seconds = train(model, load_set(args.dumpdir / args.train_set, trainer), trainer, args)
    tester = FaceTrackPreprocessor(False, channels)
    result, mels = evaluate(model, load_set(test, tester), tester, args.blank_video)
    if not args.no_score:
        result["estoi"] = estoi(mels, test / "wav.scp", frontend.mel)
    if args.mels_out:
        np.savez(args.mels_out, **mels)
    result["train_seconds"] = round(seconds, 1)
    described = {"config": str(args.config), "set": args.set, "init": str(args.init)}
    described.update(hflip_prob=args.hflip_prob, blank_video=args.blank_video, updates=args.updates)
    print(json.dumps({**described, **result}))
    if args.save:
        torch.save(model.state_dict(), args.save)


if __name__ == "__main__":
    main()

"""One GPU check, ready to run: what a GPU changes, measured in one go (under 8 minutes on one GPU).

Steps (``--steps`` picks some; ``data`` is made first whenever a later step needs it):

* ``environment``: torch, CUDA, cuDNN, the GPU, whether it has bf16.
* ``data``: real clips (``--clips``; default the first ``--num_clips`` GRID s1 clips of
  ``$LIPSOUND2_REALDATA`` or ``../shared/realdata``) through stage 1 (``lipsound2.bin.prepare_av``,
  gray tracks in an ark, ``crop.gray: true``, ``storage.format: ark``), stage 2 (``extract_mel``)
  and stage 2's speech units (``extract_units --unit_type logmel``), split into train and valid.
* ``fp32``: one batch (``--compare_batch`` utterances of the clips' 75 frames) of the paper-size
  model (``egs/TEMPLATE/conf/train_paper.yaml``'s ``model_conf``, every dropout 0 so that both
  devices compute the same function) forward and backward on the device against the CPU, TF32
  off: loss and gradients close. The difference with TF32 on (PyTorch's default for cuDNN)
  is reported beside it.
* ``autocast``: the same under bf16 and fp16 autocast on the device (fp16 with a loss scale)
  against the CPU's fp32: finite, close within the tolerances of ``TOLERANCES``.
* ``generate``: free-running decoding (``known_length``, per-utterance dropout generators) on
  the device against the CPU.
* ``train``: ``python -m lipsound2.bin.train --ngpu 1 --use_amp true``, paper-size model with a
  unit head (the data's units) and ``freeze_decoder_updates`` = one epoch, 2 epochs from an
  initial model it writes (``--init_param``), then ``--resume true`` to a third epoch. Checked:
  the decoder side is unchanged after epoch 1 and changes in epoch 2, the encoder changes,
  losses are finite, units are reported, the resumed run starts at epoch 3.
* ``infer``: ``python -m lipsound2.bin.infer --device cuda`` with that model against
  ``--device cpu`` (fp32, known_length).
* ``speak``: that model packed as stage 9 packs it (``lipsound2.bin.pack``, int8
  ``inference.yaml``, Griffin-Lim) and ``python -m lipsound2.bin.speak`` (``lipsound2-speak``)
  with ``--device cuda`` (where int8 becomes fp32) against the CPU in int8 and in fp32.
* ``update_time``: seconds per training update (forward, backward, clipping, Adam) at batch
  ``--time_batch`` (32), fp32 against AMP (ESPnet's ``--use_amp``: bf16 autocast where the GPU
  has it, else fp16, with a gradient scaler), each with ``cudnn_deterministic`` true and false;
  peak GPU memory of each.
* ``decode_speed``: free-running decoding at batch 8 (75 frames each, 187 decoder steps),
  fp32 and bf16 weights: seconds per batch and the real-time factor.
* ``vocoder``: HiFi-GAN training steps per second (``lipsound2.vocoders.hifigan_train.train_hifigan``
  on the device, ``egs/TEMPLATE/conf/vocoder_hifigan.yaml``'s networks and batch).

Writes ``results.json`` and ``results.md`` (a short table) to ``--out_dir``; exit status 0
when every check passed, 1 when one failed, 2 when ``--device cuda`` finds no GPU.
``--dry_run_cpu`` runs every step on the CPU with tiny sizes (a tiny model, 3 clips, batch 2,
one timed update), so that a machine without a GPU exercises the whole script. From the
repository root, on a GPU machine:

    PYTHONUNBUFFERED=1 python bench/gpu_check.py --out_dir gpu_check_out --clips CLIP.mpg ...

and without one: ``python bench/gpu_check.py --dry_run_cpu --out_dir gpu_check_out``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "egs" / "TEMPLATE" / "conf"
if str(ROOT) not in sys.path:  # lipsound2 from this checkout, also where it is not installed
    sys.path.insert(0, str(ROOT))

# The closeness each check asks for (relative: |a - b| / |b|, over all values).
TOLERANCES = {
    "fp32_loss": 1e-4,  # device fp32 (TF32 off) against CPU fp32
    "fp32_grad": 1e-3,  # norm of the gradient difference / norm of the CPU gradient
    "bf16_loss": 3e-2,  # bf16 autocast keeps 8 bits of mantissa
    "bf16_grad_cosine": 0.99,  # cosine between the bf16 and the CPU fp32 gradient
    "fp16_loss": 5e-3,
    "fp16_grad_cosine": 0.999,
    "generate": 1e-2,  # free-running mel, device against CPU, fp32 (TF32 off)
    "infer": 5e-2,  # lipsound2.bin.infer's mel, device against CPU (cuDNN's TF32 on, as shipped)
    "speak_fp32": 5e-2,  # the spoken wav's magnitude spectrogram, device against CPU fp32
}


def log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def default_clips(count: int) -> list[Path]:
    env = os.environ.get("LIPSOUND2_REALDATA")
    shared = [ROOT.parent / "shared" / "realdata", ROOT.parent.parent / "shared" / "realdata"]
    for base in [Path(env)] if env else shared:
        clips = sorted((base / "GRID_s1" / "s1").glob("*.mpg"))
        if clips:
            return clips[:count]
    raise SystemExit("no clips: give --clips (GRID-like videos with one face) or set LIPSOUND2_REALDATA")


def run(cmd: list[str], log_file: Path, timeout: float = 600) -> str:
    """Run a command (this Python's modules, from the repository root); its output, or an
    error with the output's end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.setdefault("OMP_NUM_THREADS", "4")
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(
        f"$ {' '.join(cmd)}\n{output}\n[exit {done.returncode}, {time.perf_counter() - start:.1f} s]\n"
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} failed (exit {done.returncode}), {log_file}:\n{output[-2500:]}"
        )
    return output


def rel(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """|a - b| / |b| (Frobenius norms), in float64."""
    a = torch.as_tensor(np.asarray(a) if isinstance(a, np.ndarray) else a.detach().cpu()).double()
    b = torch.as_tensor(np.asarray(b) if isinstance(b, np.ndarray) else b.detach().cpu()).double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))


class Settings:
    """Sizes of the full run (on a GPU) or the dry run (on the CPU)."""

    def __init__(self, args: argparse.Namespace) -> None:
        dry = args.dry_run_cpu
        self.dry = dry
        self.device = torch.device("cpu" if dry else args.device)
        self.num_clips = args.num_clips or (3 if dry else 6)
        self.max_frames = 25 if dry else 0  # frames kept of each utterance (0: all)
        self.compare_batch = args.compare_batch or (2 if dry else 8)
        self.time_batch = args.time_batch or (4 if dry else 32)
        self.decode_batch = 2 if dry else 8
        self.timed_updates = 1 if dry else 5
        self.warm_updates = 1 if dry else 2
        self.train_batch = 2 if dry else 8
        self.iters_per_epoch = 1 if dry else 3
        self.unit_k = 4 if dry else 16
        self.vocoder_config = CONF / ("vocoder_hifigan_cpu.yaml" if dry else "vocoder_hifigan.yaml")
        self.vocoder_steps = 2 if dry else 20
        self.vocoder_batch = 2 if dry else 16
        with open(args.train_config, encoding="utf-8") as f:
            paper = yaml.safe_load(f)["model_conf"]
        from lipsound2.nets.tiny import TINY_MODEL_CONF  # the tests' tiny model

        self.model_conf = {**paper, **TINY_MODEL_CONF} if dry else paper


def no_dropout(conf: dict) -> dict:
    """The model config with every dropout (and scheduled sampling) off."""
    conf = copy.deepcopy(conf)
    conf.setdefault("encoder_conf", {})["dropout"] = 0.0
    dec = conf.setdefault("decoder_conf", {})
    dec.update(prenet_dropout=0.0, prenet_always_dropout=False, lstm_dropout=0.0)
    conf.setdefault("postnet_conf", {})["dropout"] = 0.0
    conf["ss_max_prob"] = 0.0
    return conf


class GPUCheck:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.s = Settings(args)
        self.work = Path(args.work_dir or tempfile.mkdtemp(prefix="gpu_check_")).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.results: dict = {"settings": {}, "steps": {}, "tolerances": TOLERANCES}
        self.data: dict | None = None
        self.frontend = self.work / "frontend.yaml"

    # --- bookkeeping --------------------------------------------------------------------------

    def step(self, name: str, fn: Callable[[], dict]) -> None:
        log(f"{name} ...")
        start = time.perf_counter()
        try:
            figures = fn()
            failed = [k for k, v in figures.get("checks", {}).items() if not v]
            entry = {"ok": not failed, "figures": figures}
            if failed:
                entry["failed_checks"] = failed
        except Exception as exc:  # noqa: BLE001 (one failed step must not hide the others)
            entry = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        entry["seconds"] = round(time.perf_counter() - start, 1)
        self.results["steps"][name] = entry
        status = (
            "ok" if entry["ok"] else "FAILED " + str(entry.get("failed_checks") or entry.get("error"))[:2000]
        )
        log(f"{name}: {status} ({entry['seconds']} s)")
        self.save()

    def save(self) -> None:
        out = Path(self.args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(self.results, indent=1, default=str) + "\n")
        (out / "results.md").write_text(markdown(self.results))

    def sync(self) -> None:
        if self.s.device.type == "cuda":
            torch.cuda.synchronize(self.s.device)

    # --- steps --------------------------------------------------------------------------------

    def environment(self) -> dict:
        info = {
            "torch": torch.__version__,
            "cuda_build": torch.version.cuda,
            "python": platform.python_version(),
            "cpu_cores": os.cpu_count(),
            "device": str(self.s.device),
            "dry_run_cpu": self.s.dry,
        }
        if self.s.device.type == "cuda":
            props = torch.cuda.get_device_properties(self.s.device)
            info |= {
                "gpu": props.name,
                "capability": f"{props.major}.{props.minor}",
                "gpu_memory_gib": round(props.total_memory / 2**30, 1),
                "multiprocessors": props.multi_processor_count,
                "bf16": torch.cuda.is_bf16_supported(),
                "cudnn": torch.backends.cudnn.version(),
                "tf32_matmul_default": torch.backends.cuda.matmul.allow_tf32,
                "tf32_cudnn_default": torch.backends.cudnn.allow_tf32,
            }
        with contextlib.suppress(OSError):
            git = ["git", "rev-parse", "--short", "HEAD"]
            info["git"] = subprocess.run(git, cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return info

    def make_data(self) -> dict:
        clips = self.args.clips or default_clips(self.s.num_clips)
        clips = [Path(c).resolve() for c in clips][: max(self.s.num_clips, 3)]
        if len(clips) < 3:
            raise SystemExit(f"{len(clips)} clips: give at least 3")
        from lipsound2.fileio.table import read_table, write_table

        self.frontend.write_text("crop:\n  gray: true\nstorage:\n  format: ark\n")
        src = self.work / "data" / "all"
        dump = self.work / "dump" / "all"
        write_table(src / "video.scp", {f"s1-{c.stem}": str(c) for c in clips})
        if not (dump / "units.scp").is_file():
            py = sys.executable
            run([py, "-m", "lipsound2.bin.prepare_av", "--frontend_config", str(self.frontend),
                 "--video_scp", str(src / "video.scp"), "--media_dir", str(dump / "data"),
                 "--out_dir", str(dump)], self.work / "logs" / "prepare_av.log")  # fmt: skip
            run([py, "-m", "lipsound2.bin.extract_mel", "--frontend_config", str(self.frontend),
                 "--wav_scp", str(dump / "wav.scp"), "--utt2num_vframes", str(dump / "utt2num_vframes"),
                 "--ark", str(dump / "data" / "feats.ark"), "--out_dir", str(dump)],
                self.work / "logs" / "extract_mel.log")  # fmt: skip
            run([py, "-m", "lipsound2.bin.extract_units", "--unit_type", "logmel", "--frontend_config",
                 str(self.frontend), "--kmeans", str(self.work / "kmeans.npz"), "--fit_dir", str(dump),
                 "--k", str(self.s.unit_k), str(dump)], self.work / "logs" / "extract_units.log")  # fmt: skip
        names = ("video.scp", "feats.scp", "units.scp", "wav.scp", "utt2num_vframes", "utt2num_frames")
        tables = {name: read_table(dump / name) for name in names}
        keys = sorted(tables["units.scp"])
        if len(keys) < 3:
            raise RuntimeError(f"only {len(keys)} clips passed stages 1-2 (see {self.work / 'logs'})")
        if self.s.max_frames:
            dump = self.shorten(dump, tables, keys, self.s.max_frames)
            tables = {name: read_table(dump / name) for name in names}
        splits = {"train": keys[:-1], "valid": keys[-1:]}
        for split, split_keys in splits.items():
            d = self.work / "dump" / split
            for name, table in tables.items():
                write_table(d / name, {k: table[k] for k in split_keys})
            (d / "units.yaml").write_text((dump / "units.yaml").read_text())
            vf, mf = tables["utt2num_vframes"], tables["utt2num_frames"]
            write_table(d / "video_shape", {k: f"{vf[k]},112,112" for k in split_keys})
            write_table(d / "feats_shape", {k: f"{mf[k]},80" for k in split_keys})
        self.data = {"keys": keys, "clips": [str(c) for c in clips], "dump": dump, "tables": tables}
        return {"clips": len(clips), "utterances": len(keys), "train": len(splits["train"]), "valid": 1,
                "frames": {k: int(tables["utt2num_vframes"][k]) for k in keys}}  # fmt: skip

    @staticmethod
    def shorten(dump: Path, tables: dict, keys: list[str], frames: int) -> Path:
        """The first ``frames`` video frames of each utterance, with their mel and units (the dry
        run's tiny sizes), in a folder beside ``dump``."""
        from lipsound2.fileio.ark import ArkWriter, load_array
        from lipsound2.fileio.table import write_table

        out = dump.with_name("short")
        mel = int(frames * 2.5)
        with (
            ArkWriter(out / "data" / "video.ark", out / "video.scp") as video,
            ArkWriter(out / "data" / "feats.ark", out / "feats.scp") as feats,
            ArkWriter(out / "data" / "units.ark", out / "units.scp") as units,
        ):
            for key in keys:
                video[key] = load_array(tables["video.scp"][key])[:frames]
                feats[key] = load_array(tables["feats.scp"][key])[:mel]
                units[key] = load_array(tables["units.scp"][key])[:mel].astype(np.int32)
        write_table(out / "utt2num_vframes", dict.fromkeys(keys, str(frames)))
        write_table(out / "utt2num_frames", dict.fromkeys(keys, str(mel)))
        write_table(out / "wav.scp", tables["wav.scp"])
        (out / "units.yaml").write_text((dump / "units.yaml").read_text())
        return out

    def need_data(self) -> dict:
        if self.data is None:
            self.step("data", self.make_data)
            if self.data is None:
                raise RuntimeError("no data: the data step failed")
        return self.data

    def batch(self, size: int) -> dict[str, torch.Tensor]:
        """``size`` utterances (the clips over again) through the training path's preprocessing
        (gray float32 pixels, no flips) and collate function."""
        from lipsound2.fileio.ark import load_array
        from lipsound2.fileio.facetrack import read_face_track
        from lipsound2.tasks.lipsound2 import LipSound2Task
        from lipsound2.tasks.preprocess import FaceTrackPreprocessor

        data = self.need_data()
        pre = FaceTrackPreprocessor(train=False, channels=int(self.s.model_conf.get("in_channels", 1)))
        collate = LipSound2Task.build_collate_fn(argparse.Namespace(), train=True)
        items = []
        for i in range(size):
            key = data["keys"][i % len(data["keys"])]
            video = read_face_track(data["tables"]["video.scp"][key])
            feats = load_array(data["tables"]["feats.scp"][key]).astype(np.float32)
            items.append((f"{key}-{i}", pre(key, {"video": video, "feats": feats})))
        return collate(items)[1]

    def model(self, conf: dict | None = None, seed: int = 0):
        from lipsound2.nets.lipsound2 import LipSound2

        torch.manual_seed(seed)
        return LipSound2(**(conf or self.s.model_conf), n_mels=80, mel_per_video_frame=2.5)

    @staticmethod
    def loss_and_grads(model, batch, device, autocast_dtype=None, loss_scale=1.0):
        model.zero_grad(set_to_none=True)
        inputs = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(
            device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
        ):
            loss, _, _ = model(**inputs)
        (loss * loss_scale).backward()
        names = [n for n, p in model.named_parameters() if p.grad is not None]
        grads = {
            n: p.grad.detach().float().cpu() / loss_scale for n, p in model.named_parameters() if n in names
        }
        return float(loss.detach()), grads

    def reference(self) -> tuple:
        """The paper-size model without dropout, its CPU loss and gradients on one batch."""
        if not hasattr(self, "_reference"):
            batch = self.batch(self.s.compare_batch)
            model = self.model(no_dropout(self.s.model_conf)).train()
            loss, grads = self.loss_and_grads(model, batch, torch.device("cpu"))
            self._reference = (model, batch, loss, grads)
        return self._reference

    def compare(self, model, batch, ref_loss, ref_grads, dtype=None, scale=1.0) -> dict:
        device = self.s.device
        other = copy.deepcopy(model).to(device).train()
        loss, grads = self.loss_and_grads(other, batch, device, dtype, scale)
        flat_ref = torch.cat([ref_grads[n].flatten() for n in ref_grads])
        flat = torch.cat([grads[n].flatten() for n in ref_grads])
        # the worst parameter among those with a gradient to speak of (a convolution's bias
        # before BatchNorm has a gradient of zero up to rounding)
        norms = {n: float(g.norm()) for n, g in ref_grads.items()}
        sizable = [n for n in ref_grads if norms[n] > 1e-4 * float(flat_ref.norm())]
        worst = max(sizable or list(ref_grads), key=lambda n: rel(grads[n], ref_grads[n]))
        return {
            "loss": loss,
            "loss_cpu_fp32": ref_loss,
            "loss_rel_diff": abs(loss - ref_loss) / abs(ref_loss),
            "grad_rel_diff": rel(flat, flat_ref),
            "grad_cosine": cosine(flat, flat_ref),
            "worst_parameter": worst,
            "worst_parameter_rel_diff": rel(grads[worst], ref_grads[worst]),
            "finite": bool(math.isfinite(loss) and torch.isfinite(flat).all()),
            "same_parameters": sorted(grads) == sorted(ref_grads),
        }

    def fp32(self) -> dict:
        model, batch, ref_loss, ref_grads = self.reference()
        tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        try:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
            strict = self.compare(model, batch, ref_loss, ref_grads)
            torch.backends.cudnn.allow_tf32 = True
            with_tf32 = self.compare(model, batch, ref_loss, ref_grads)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
        return {
            "batch": list(batch["video"].shape),
            "tf32_off": strict,
            "cudnn_tf32_on": with_tf32,
            "checks": {
                "finite": strict["finite"],
                "same_parameters_get_gradients": strict["same_parameters"],
                "loss_close": strict["loss_rel_diff"] <= TOLERANCES["fp32_loss"],
                "gradients_close": strict["grad_rel_diff"] <= TOLERANCES["fp32_grad"],
            },
        }

    def autocast(self) -> dict:
        model, batch, ref_loss, ref_grads = self.reference()
        out, checks = {}, {}
        for name, dtype, scale in (("bf16", torch.bfloat16, 1.0), ("fp16", torch.float16, 2.0**12)):
            if self.s.device.type == "cuda" and name == "bf16" and not torch.cuda.is_bf16_supported():
                out[name] = "not supported by this GPU"
                continue
            try:
                figures = self.compare(model, batch, ref_loss, ref_grads, dtype, scale)
            except Exception as exc:  # noqa: BLE001 (record which precision fails, try the other)
                out[name] = f"{type(exc).__name__}: {exc}"
                checks[f"{name}_runs"] = False
                continue
            out[name] = figures
            checks[f"{name}_finite"] = figures["finite"]
            checks[f"{name}_loss_close"] = figures["loss_rel_diff"] <= TOLERANCES[f"{name}_loss"]
            checks[f"{name}_gradients_close"] = figures["grad_cosine"] >= TOLERANCES[f"{name}_grad_cosine"]
        out["checks"] = checks
        return out

    def generate(self) -> dict:
        from lipsound2.inference.batching import utterance_generator

        batch = self.batch(min(4, self.s.compare_batch))
        model = self.model().eval()
        keys = [f"u{i}" for i in range(len(batch["video"]))]

        def decode(m, device):
            gens = [utterance_generator(0, k) for k in keys]
            out = m.to(device).generate(
                batch["video"].to(device), batch["video_lengths"].to(device), "known_length", None, gens
            )
            return out["mel"].float().cpu(), out["mel_lengths"].cpu()

        tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        try:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
            cpu_mel, cpu_len = decode(copy.deepcopy(model), torch.device("cpu"))
            dev_mel, dev_len = decode(copy.deepcopy(model), self.s.device)
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
        diff = rel(dev_mel, cpu_mel)
        return {
            "utterances": len(keys),
            "mel_frames": cpu_len.tolist(),
            "mel_rel_diff": diff,
            "checks": {
                "same_lengths": torch.equal(cpu_len, dev_len),
                "finite": bool(torch.isfinite(dev_mel).all()),
                "mel_close": diff <= TOLERANCES["generate"],
            },
        }

    # --- the commands -------------------------------------------------------------------------

    def data_args(self) -> list[str]:
        args = []
        for split in ("train", "valid"):
            d = self.work / "dump" / split
            for scp, name, kind in (("video.scp", "video", "face_track"), ("feats.scp", "feats", "kaldi_ark"),
                                    ("units.scp", "units", "kaldi_ark")):  # fmt: skip
                args += [f"--{split}_data_path_and_name_and_type", f"{d / scp},{name},{kind}"]
            args += [f"--{split}_shape_file", str(d / "video_shape")]
        return args

    def train(self) -> dict:
        self.need_data()
        from lipsound2.nets.lipsound2 import DECODER_SIDE

        exp = self.work / "exp"
        shutil.rmtree(exp, ignore_errors=True)  # a fresh training, then its resumption
        gpu = self.s.device.type == "cuda"
        conf = {
            "model_conf": {**self.s.model_conf, "unit_weight": 1.0, "num_units": self.s.unit_k,
                           "freeze_decoder_updates": self.s.iters_per_epoch},
            "optim": "adam", "optim_conf": {"lr": 1.0e-3}, "grad_clip": 1.0,
            "batch_type": "sorted", "batch_size": self.s.train_batch,
            "num_iters_per_epoch": self.s.iters_per_epoch, "max_epoch": 2, "num_workers": 2 if gpu else 0,
            "num_att_plot": 0, "log_interval": 1, "keep_nbest_models": 10,
            "best_model_criterion": [["valid", "loss", "min"]], "cudnn_deterministic": False,
        }  # fmt: skip
        exp.mkdir(parents=True, exist_ok=True)
        config = self.work / "train.yaml"
        config.write_text(yaml.safe_dump(conf))
        init = self.work / "init.pth"
        model_conf = dict(conf["model_conf"])
        model = self.model(model_conf, seed=1)
        torch.save(model.state_dict(), init)
        cmd = [sys.executable, "-m", "lipsound2.bin.train", "--config", str(config),
               "--frontend_config", str(self.frontend), "--output_dir", str(exp),
               "--ngpu", "1" if gpu else "0", "--use_amp", "true" if gpu else "false",
               "--init_param", str(init), "--resume", "true", "--seed", "0", *self.data_args()]  # fmt: skip
        start = time.perf_counter()
        first = run(cmd, self.work / "logs" / "train_1.log")
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        second = run([*cmd, "--max_epoch", "3"], self.work / "logs" / "train_2.log")
        second_s = time.perf_counter() - start

        def load(name: str) -> dict[str, torch.Tensor]:
            return torch.load(exp / name, map_location="cpu", weights_only=True)

        init_sd = torch.load(init, map_location="cpu", weights_only=True)
        ep1, ep2 = load("1epoch.pth"), load("2epoch.pth")
        side = [k for k in init_sd if k.split(".")[0] in DECODER_SIDE and init_sd[k].is_floating_point()]
        encoder = [k for k in init_sd if k.startswith("encoder.") and init_sd[k].is_floating_point()]
        frozen_kept = all(torch.equal(init_sd[k], ep1[k]) for k in side)
        moved_after = sum(not torch.equal(ep1[k], ep2[k]) for k in side)
        encoder_moved = sum(not torch.equal(init_sd[k], ep1[k]) for k in encoder)
        from lipsound2.tasks.checkpoint import load_checkpoint

        stats = load_checkpoint(exp / "checkpoint.pth")["reporter"]["stats"]
        epochs = sorted(stats)
        last = stats[epochs[-1]]
        losses = [float(stats[e][split]["loss"]) for e in epochs for split in ("train", "valid")]
        return {
            "seconds_two_epochs": round(first_s, 1),
            "seconds_resumed_epoch": round(second_s, 1),
            "epochs_in_checkpoint": epochs,
            "train_loss": [round(float(stats[e]["train"]["loss"]), 4) for e in epochs],
            "valid_loss": [round(float(stats[e]["valid"]["loss"]), 4) for e in epochs],
            "unit_acc_last": float(last["train"].get("unit_acc", float("nan"))),
            "decoder_side_tensors": len(side),
            "decoder_side_changed_in_epoch_2": moved_after,
            "encoder_tensors_changed_in_epoch_1": encoder_moved,
            "amp": "--use_amp true" if gpu else "off (CPU)",
            "checks": {
                "decoder_frozen_in_epoch_1": frozen_kept,
                "decoder_trains_in_epoch_2": moved_after > 0,
                "encoder_trains_in_epoch_1": encoder_moved > 0,
                "losses_finite": all(math.isfinite(x) for x in losses),
                "units_reported": "unit_acc" in last["train"],
                "resumed_at_epoch_3": epochs == [1, 2, 3]
                and "3/3epoch started" in second
                and "1/3epoch started" not in second,
                "first_run_trained_2_epochs": "2/2epoch started" in first,
            },
        }

    def exp_model(self) -> Path:
        exp = self.work / "exp"
        for name in ("valid.loss.best.pth", "3epoch.pth", "2epoch.pth"):
            if (exp / name).is_file():
                return exp / name
        raise RuntimeError("no trained model: the train step failed")

    def infer(self) -> dict:
        self.need_data()
        model_file = self.exp_model()
        mels = {}
        seconds = {}
        for tag, device in (("device", str(self.s.device)), ("cpu", "cpu")):
            out = self.work / f"infer_{tag}"
            start = time.perf_counter()
            cmd = [sys.executable, "-m", "lipsound2.bin.infer",
                   "--train_config", str(model_file.with_name("config.yaml")),
                   "--model_file", str(model_file), "--frontend_config", str(self.frontend),
                   "--data_path", str(self.data["dump"] / "video.scp"), "--output_dir", str(out),
                   "--device", device, "--precision", "fp32", "--stop_mode", "known_length",
                   "--batch_size", "4"]  # fmt: skip
            run(cmd, self.work / "logs" / f"infer_{tag}.log")
            seconds[tag] = round(time.perf_counter() - start, 1)
            from lipsound2.fileio.ark import read_scp

            mels[tag] = read_scp(out / "feats.scp")
        dev, cpu = mels["device"], mels["cpu"]
        diffs = {k: rel(dev[k], cpu[k]) for k in cpu if k in dev}
        return {
            "utterances": len(cpu),
            "seconds_with_start_up": seconds,
            "mel_rel_diff_max": max(diffs.values()) if diffs else None,
            "mel_rel_diff_mean": statistics.mean(diffs.values()) if diffs else None,
            "checks": {
                "same_utterances": sorted(dev) == sorted(cpu),
                "same_shapes": all(dev[k].shape == cpu[k].shape for k in diffs),
                "mel_close": bool(diffs) and max(diffs.values()) <= TOLERANCES["infer"],
            },
        }

    def speak(self) -> dict:
        data = self.need_data()
        model_file = self.exp_model()
        inference = self.work / "inference_int8.yaml"
        inference.write_text(
            yaml.safe_dump({"precision": "int8", "stop_mode": "known_length", "batch_size": 8})
        )
        pack = self.work / "pack" / "gpu_check.zip"
        pack.parent.mkdir(parents=True, exist_ok=True)
        config = str(model_file.parent / "config.yaml")
        cmd = [sys.executable, "-m", "lipsound2.bin.pack", "--train_config", config,
               "--model_file", str(model_file), "--frontend_config", str(self.frontend),
               "--inference_config", str(inference), "--vocoder_type", "griffin_lim",
               "--vocoder_config", str(CONF / "vocoder_hifigan.yaml"), "--outpath", str(pack)]  # fmt: skip
        run(cmd, self.work / "logs" / "pack.log")
        clips = data["clips"][:2]
        import soundfile

        wavs, lines, outputs = {}, {}, {}
        # on a GPU the pack's int8 becomes fp32; a dry run on the CPU asks for that fp32 itself
        on_device = [str(self.s.device)] + (["--precision", "fp32"] if self.s.device.type == "cpu" else [])
        runs = {
            "device": on_device,
            "cpu_int8": ["cpu"],
            "cpu_fp32": ["cpu", "--precision", "fp32"],
        }
        for name, (device, *extra) in runs.items():
            out = self.work / f"speak_{name}"
            # python -m lipsound2.bin.speak runs lipsound2-speak's main (the console script)
            cmd = [sys.executable, "-m", "lipsound2.bin.speak", *clips, "--model", str(pack), "-o", str(out),
                   "--device", device, *extra, "--quiet"]  # fmt: skip
            output = outputs[name] = run(cmd, self.work / "logs" / f"speak_{name}.log")
            lines[name] = [line for line in output.splitlines() if "real-time factor" in line]
            wavs[name] = {Path(c).stem: soundfile.read(out / f"{Path(c).stem}.wav")[0] for c in clips}

        def spec_diff(a: np.ndarray, b: np.ndarray) -> float:
            sa, sb = (
                torch.stft(torch.from_numpy(x).float(), 512, 128, return_complex=True).abs() for x in (a, b)
            )
            return rel(sa, sb)

        diffs_fp32 = {k: spec_diff(wavs["device"][k], wavs["cpu_fp32"][k]) for k in wavs["cpu_fp32"]}
        diffs_int8 = {k: spec_diff(wavs["device"][k], wavs["cpu_int8"][k]) for k in wavs["cpu_int8"]}
        checks = {}
        if self.s.device.type == "cuda":
            checks["int8_pack_decodes_fp32_on_gpu"] = "decoding in fp32" in outputs["device"]
        return {
            "videos": len(clips),
            "stdout": lines,
            "spectrogram_rel_diff_vs_cpu_fp32": diffs_fp32,
            "spectrogram_rel_diff_vs_cpu_int8": diffs_int8,
            "checks": {
                **checks,
                "same_lengths": all(
                    len(wavs["device"][k]) == len(wavs["cpu_int8"][k]) for k in wavs["device"]
                ),
                "finite": all(np.isfinite(w).all() for w in wavs["device"].values()),
                "close_to_cpu_fp32": max(diffs_fp32.values()) <= TOLERANCES["speak_fp32"],
            },
        }

    # --- speed --------------------------------------------------------------------------------

    def update_time(self) -> dict:
        batch = self.batch(self.s.time_batch)
        device = self.s.device
        amp_dtype = torch.bfloat16
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            amp_dtype = torch.float16
        rows = {}
        saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
        try:
            for amp in (False, True):
                for deterministic in (True, False):
                    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = deterministic, False
                    model = self.model().to(device).train()
                    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-6, weight_decay=1e-6)
                    scaler = torch.amp.GradScaler(device.type) if amp and device.type == "cuda" else None
                    inputs = {k: v.to(device) for k, v in batch.items()}
                    times = []
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    for i in range(self.s.warm_updates + self.s.timed_updates):
                        self.sync()
                        start = time.perf_counter()
                        opt.zero_grad(set_to_none=True)
                        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                            loss, _, _ = model(**inputs)
                        if scaler is not None:
                            scaler.scale(loss).backward()
                            scaler.unscale_(opt)
                            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                            scaler.step(opt)
                            scaler.update()
                        else:
                            loss.backward()
                            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                            opt.step()
                        self.sync()
                        if i >= self.s.warm_updates:
                            times.append(time.perf_counter() - start)
                    precision = "amp_" + str(amp_dtype).split(".")[-1] if amp else "fp32"
                    name = f"{precision}_deterministic_{deterministic}"
                    rows[name] = {
                        "s_per_update": round(statistics.median(times), 4),
                        "all_s": [round(t, 4) for t in times],
                        "loss": float(loss.detach()),
                    }
                    if device.type == "cuda":
                        rows[name]["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
                    del model, opt
        finally:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved
        fastest = min(rows, key=lambda n: rows[n]["s_per_update"])
        return {
            "batch": list(batch["video"].shape),
            "mel_frames": int(batch["feats_lengths"].max()),
            "rows": rows,
            "fastest": fastest,
            "utt_per_s_needed_at_fastest": round(self.s.time_batch / rows[fastest]["s_per_update"], 1),
            "checks": {"losses_finite": all(math.isfinite(r["loss"]) for r in rows.values())},
        }

    def decode_speed(self) -> dict:
        from lipsound2.inference.batching import utterance_generator
        from lipsound2.nets.precision import with_precision

        batch = self.batch(self.s.decode_batch)
        device = self.s.device
        seconds_video = float(batch["video_lengths"].sum()) / 25.0
        rows = {}
        for precision in ("fp32", "bf16"):
            model = with_precision(self.model().eval().to(device), precision)
            video, lengths = batch["video"].to(device), batch["video_lengths"].to(device)
            times = []
            for i in range(1 + (1 if self.s.dry else 3)):
                gens = [utterance_generator(0, f"u{j}") for j in range(len(video))]
                self.sync()
                start = time.perf_counter()
                out = model.generate(video, lengths, "known_length", None, gens)
                self.sync()
                if i > 0:
                    times.append(time.perf_counter() - start)
            seconds = statistics.median(times)
            steps = int(out["attention_steps"].max())
            rows[precision] = {
                "s_per_batch": round(seconds, 3),
                "rtf": round(seconds / seconds_video, 4),
                "decoder_steps_per_s": round(steps / seconds, 1),
                "finite": bool(torch.isfinite(out["mel"]).all()),
            }
            del model
        return {
            "batch": len(batch["video"]),
            "seconds_of_video": seconds_video,
            "rows": rows,
            "checks": {f"{p}_finite": r["finite"] for p, r in rows.items()},
        }

    def vocoder(self) -> dict:
        data = self.need_data()
        from lipsound2.frontend.config import load_config
        from lipsound2.vocoders.hifigan_train import TrainOptions, train_hifigan

        with open(self.s.vocoder_config, encoding="utf-8") as f:
            conf = yaml.safe_load(f)
        mel = load_config(self.frontend).mel
        wavs = data["tables"]["wav.scp"]
        times = {}
        for name, steps in (("warm", 2), ("timed", 2 + self.s.vocoder_steps)):
            train = {**conf.get("train", {}), "steps": steps, "batch_size": self.s.vocoder_batch,
                     "log_interval": steps, "checkpoint_interval": 10**9,
                     "discriminator_start_step": 0}  # fmt: skip
            options = TrainOptions(**train)
            shutil.rmtree(self.work / f"vocoder_{name}", ignore_errors=True)  # no checkpoint to resume
            self.sync()
            start = time.perf_counter()
            nets = conf["generator_params"], conf["discriminator_params"]
            curve = train_hifigan(
                wavs, self.work / f"vocoder_{name}", *nets, options, mel, None, self.s.device
            )
            self.sync()
            times[name] = time.perf_counter() - start
        steps_per_s = self.s.vocoder_steps / max(times["timed"] - times["warm"], 1e-9)
        return {
            "config": str(self.s.vocoder_config.relative_to(ROOT)),
            "batch": self.s.vocoder_batch,
            "segment_frames": conf.get("train", {}).get("segment_frames"),
            "steps_per_s": round(steps_per_s, 2),
            "mel_l1_last": curve[-1][1] if curve else None,
            "checks": {"finite": bool(curve) and math.isfinite(curve[-1][1])},
        }

    # ------------------------------------------------------------------------------------------

    def run_all(self, steps: list[str]) -> int:
        self.results["settings"] = {k: (str(v) if isinstance(v, (Path, torch.device)) else v)
                                    for k, v in vars(self.s).items() if k != "model_conf"}  # fmt: skip
        self.results["settings"]["work_dir"] = str(self.work)
        self.results["settings"]["model_conf"] = self.s.model_conf
        table = {
            "environment": self.environment, "data": self.make_data, "fp32": self.fp32,
            "autocast": self.autocast, "generate": self.generate, "train": self.train, "infer": self.infer,
            "speak": self.speak, "update_time": self.update_time, "decode_speed": self.decode_speed,
            "vocoder": self.vocoder,
        }  # fmt: skip
        for name in steps:
            if name not in self.results["steps"]:
                self.step(name, table[name])
        self.save()
        return 0 if all(s["ok"] for s in self.results["steps"].values()) else 1


STEPS = ["environment", "data", "fp32", "autocast", "generate", "train", "infer", "speak",
         "update_time", "decode_speed", "vocoder"]  # fmt: skip


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def markdown(results: dict) -> str:
    """A short table: one line per step, its main figures."""
    lines = ["| step | ok | seconds | figures |", "| --- | --- | --- | --- |"]
    for name, entry in results["steps"].items():
        f = entry.get("figures", {})
        if "error" in entry:
            text = entry["error"].splitlines()[0][:300]
        elif name == "environment":
            text = ", ".join(f"{k} {_fmt(v)}" for k, v in f.items())
        elif name == "fp32":
            s, t = f["tf32_off"], f["cudnn_tf32_on"]
            text = (
                f"loss rel. diff {_fmt(s['loss_rel_diff'])}, gradient rel. diff {_fmt(s['grad_rel_diff'])} "
                f"(TF32 off); {_fmt(t['loss_rel_diff'])}, {_fmt(t['grad_rel_diff'])} with cuDNN TF32"
            )
        elif name == "autocast":
            parts = []
            for p in ("bf16", "fp16"):
                r = f.get(p)
                if isinstance(r, dict):
                    parts.append(f"{p}: loss rel. diff {_fmt(r['loss_rel_diff'])}, gradient cosine "
                                 f"{r['grad_cosine']:.5f}")  # fmt: skip
                elif r is not None:
                    parts.append(f"{p}: {r}")
            text = "; ".join(parts)
        elif name in ("update_time", "decode_speed"):
            key = "s_per_update" if name == "update_time" else "s_per_batch"
            text = ", ".join(f"{k} {v[key]} s" + (f" (RTF {v['rtf']})" if "rtf" in v else "")
                             for k, v in f["rows"].items())  # fmt: skip
        else:
            text = ", ".join(
                f"{k} {_fmt(v)}" for k, v in f.items() if k not in ("checks", "stdout", "frames")
            )
        failed = entry.get("failed_checks")
        if failed:
            text += f"; failed: {', '.join(failed)}"
        lines.append(f"| {name} | {'yes' if entry['ok'] else '**no**'} | {entry['seconds']} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", type=Path, required=True, help="results.json and results.md go here")
    p.add_argument(
        "--work_dir", type=Path, help="data, experiments and logs (default: a new temporary folder)"
    )
    p.add_argument("--device", default="cuda", help="the GPU to check (default cuda)")
    p.add_argument("--dry_run_cpu", action="store_true", help="every step on the CPU with tiny sizes")
    p.add_argument("--clips", nargs="+", type=Path, help="videos with one face (default: GRID s1 clips)")
    p.add_argument("--num_clips", type=int, default=0, help="clips used (default 6; 3 in the dry run)")
    p.add_argument("--train_config", type=Path, default=CONF / "train_paper.yaml", help="its model_conf")
    p.add_argument("--compare_batch", type=int, default=0, help="utterances of the comparisons (default 8)")
    p.add_argument("--time_batch", type=int, default=0, help="utterances of the timed updates (default 32)")
    p.add_argument("--steps", nargs="+", choices=STEPS, default=STEPS)
    args = p.parse_args(argv)
    if not args.dry_run_cpu:
        device = torch.device(args.device)
        if device.type != "cuda":
            p.error(f"--device {args.device}: this checks a GPU (cuda[:N]); for the CPU use --dry_run_cpu")
        if not torch.cuda.is_available():
            print(
                f"gpu_check: error: --device {args.device}, but torch {torch.__version__} (CUDA build "
                f"{torch.version.cuda}) sees no CUDA GPU on this machine. Run it where one is, or use "
                "--dry_run_cpu to exercise every step on the CPU with tiny sizes.",
                file=sys.stderr,
            )
            return 2
    check = GPUCheck(args)
    log(f"work dir {check.work}, results in {args.out_dir}")
    status = check.run_all(args.steps)
    print(markdown(check.results))
    failed = [n for n, s in check.results["steps"].items() if not s["ok"]]
    log("every check passed" if not failed else f"failed: {', '.join(failed)}")
    return status


if __name__ == "__main__":
    sys.exit(main())

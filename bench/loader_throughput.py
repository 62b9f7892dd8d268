"""Training data path: utterances per second one loader worker delivers, per face-track storage.

Not a test: run by hand; the figures of docs/network.md ("Feeding a GPU") come from it.

Stage 1's own code (``python -m lipsound2.bin.prepare_av`` with a front-end YAML that sets
``storage.format`` and ``crop.gray``) turns real clips (default: the first 10 GRID s1 clips of
``$LIPSOUND2_REALDATA`` or ``../shared/realdata``) into 112 x 112 face tracks, stage 2
(``lipsound2.bin.extract_mel``) into log-mel; the tables are then replicated (the same
files under new keys) to ``--utts`` utterances. Each storage is read through the path
training takes: ESPnet's ``ESPnetDataset`` with the ``face_track`` loader type and
``kaldi_ark`` mel, ``LipSound2Task.build_preprocess_fn`` (``FaceTrackPreprocessor``: gray for
the paper's ``in_channels: 1``, float32, random flips) and ``build_collate_fn``, batched by
ESPnet's ``SequenceIterFactory`` in batches of ``--batch_size`` (the paper's 32 utterances of
75 frames).

Per storage, in a fresh child process (so that its peak resident memory is its own):

* the loader in the process itself (``num_workers 0``): CPU seconds per utterance, that is
  utterances per second per loader worker, and the process's peak resident memory;
* the same batches through ``num_workers`` = each of ``--workers``: wall-clock utterances per
  second (with the hand-over of every batch through shared memory) and the largest peak
  resident memory of one worker.

Rows: mp4 (the default storage, RGB), ark (``storage.format: ark``), both again with
``crop.gray: true`` (one channel, what ``in_channels: 1`` models read), and ``mp4 luma``: the
default RGB mp4 files read by a prototype reader (this file's ``read_luma``) that takes the
decoder's Y plane instead of converting every frame to RGB and back to gray; it needs a
change in ``lipsound2/`` before training can use it (docs/network.md). For every row, the
model input of the first utterances is compared with that from the lossless RGB ark (mean
absolute difference in gray levels).

The tracks are read from the page cache (the files are small and read again and again), so
the figures are the CPU's cost, not a disk's. From the repository root:

    OMP_NUM_THREADS=1 python bench/loader_throughput.py --out_dir bench_out/loader

writes ``results.json`` and ``results.md`` there; ``--work_dir`` keeps the dumps.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_UPDATE_S = 0.3  # the seconds per update of 32 utterances a GPU run must be fed at

# name: (crop.gray, storage.format, loader type, description)
FORMATS = {
    "mp4": (False, "mp4", "face_track", "mp4 H.264 crf 14, RGB (the default)"),
    "ark": (False, "ark", "face_track", "ark uint8, RGB (`storage.format: ark`)"),
    "mp4_gray": (True, "mp4", "face_track", "mp4 H.264 crf 14, gray (`crop.gray: true`)"),
    "ark_gray": (True, "ark", "face_track", "ark uint8, gray (`crop.gray: true`, `storage.format: ark`)"),
    "mp4_luma": (False, "mp4", "face_track_luma", "mp4 RGB (the default) read as luma: needs a code change"),
}
LUMA_TYPE = "face_track_luma"


def default_clips(count: int) -> list[Path]:
    """The first ``count`` GRID s1 clips: $LIPSOUND2_REALDATA or ../shared/realdata (as the tests)."""
    env = os.environ.get("LIPSOUND2_REALDATA")
    shared = [ROOT.parent / "shared" / "realdata", ROOT.parent.parent / "shared" / "realdata"]
    bases = [Path(env)] if env else shared
    for base in bases:
        clips = sorted((base / "GRID_s1" / "s1").glob("*.mpg"))
        if clips:
            return clips[:count]
    raise SystemExit("no GRID_s1 clips found: give clip paths or set LIPSOUND2_REALDATA")


# ---------------------------------------------------------------------------------------------
# The prototype reader: the Y plane of the decoded frames, no RGB conversion.


def read_luma(spec: str):
    """A face track as uint8 gray ``(T, H, W)``: media files from the decoder's Y plane (put on
    the full 0-255 range), anything else as ``read_face_track(spec, gray=True)``."""
    import numpy as np

    from lipsound2.fileio.facetrack import MEDIA_SUFFIXES, read_face_track
    from lipsound2.fileio.gray import to_gray

    spec = spec.strip()
    if not spec.lower().endswith(MEDIA_SUFFIXES):
        return read_face_track(spec, gray=True)
    import av

    # limited-range (16-235) luma to full range, rounded: what an RGB decode + to_gray gives
    full = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
    rows = []
    with av.open(spec) as container:
        for frame in container.decode(video=0):
            if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "gray"):
                rows.append(to_gray(frame.to_ndarray(format="rgb24")))
                continue
            plane = frame.planes[0]
            luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
            limited = frame.format.name in ("yuv420p", "yuv422p", "yuv444p") and frame.color_range != 2
            rows.append(full[luma] if limited else luma.copy())
    if not rows:
        raise ValueError(f"{spec}: no video frames")
    return np.stack(rows)


def register_luma_type() -> None:
    """ESPnet picks the first ``DATA_TYPES`` key that ``re.match``-es the type name, and
    ``face_track`` matches ``face_track_luma``: put ours first."""
    from espnet2.train import dataset

    from lipsound2.tasks import face_track_type

    class LumaReader(face_track_type.FaceTrackReader):
        def __getitem__(self, key: str):
            return self._read(key, read_luma, "face track")

    face_track_type.register()
    others = dict(dataset.DATA_TYPES)
    others.pop(LUMA_TYPE, None)
    dataset.DATA_TYPES.clear()
    dataset.DATA_TYPES[LUMA_TYPE] = dict(func=LumaReader, kwargs=[], help="face tracks read as luma")
    dataset.DATA_TYPES.update(others)


# ---------------------------------------------------------------------------------------------
# Data: stage 1 per storage, stage 2 once, the tables replicated.


def run_stage(cmd: list[str], log: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as f:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed, see {log}:\n{log.read_text()[-2000:]}")


def prepare(clips: list[Path], work: Path, needed: set[tuple[bool, str]]) -> dict[tuple[bool, str], Path]:
    """Stage 1 for each (gray, format) and stage 2 on the first: ``dump`` folders with
    ``video.scp`` and ``feats.scp``."""
    from lipsound2.fileio.table import write_table

    data = work / "data"
    write_table(data / "video.scp", {f"s1-{clip.stem}": str(clip.resolve()) for clip in clips})
    dumps = {}
    for gray, fmt in sorted(needed):
        dump = work / f"dump_{'gray' if gray else 'rgb'}_{fmt}"
        dumps[gray, fmt] = dump
        if (dump / "video.scp").is_file():
            continue
        conf = dump / "frontend.yaml"
        dump.mkdir(parents=True, exist_ok=True)
        conf.write_text(f"crop:\n  gray: {str(gray).lower()}\nstorage:\n  format: {fmt}\n")
        cmd = [sys.executable, "-m", "lipsound2.bin.prepare_av", "--frontend_config", str(conf),
               "--video_scp", str(data / "video.scp"), "--media_dir", str(dump / "data"),
               "--out_dir", str(dump / "job")]  # fmt: skip
        run_stage(cmd, dump / "prepare_av.log")
        (dump / "job" / "video.scp").rename(dump / "video.scp")
    first = dumps[sorted(needed)[0]]
    feats = work / "feats"
    if not (feats / "feats.scp").is_file():
        cmd = [sys.executable, "-m", "lipsound2.bin.extract_mel", "--wav_scp", str(first / "job" / "wav.scp"),
               "--ark", str(feats / "feats.ark"), "--out_dir", str(feats / "job")]  # fmt: skip
        run_stage(cmd, work / "extract_mel.log")
        (feats / "job" / "feats.scp").rename(feats / "feats.scp")
    return dumps


def replicate(dump: Path, feats_scp: Path, utts: int, out: Path) -> tuple[Path, Path, int]:
    """``video.scp`` and ``feats.scp`` of ``utts`` keys (the clips again under new names), and
    the face tracks' bytes on disk per utterance."""
    from lipsound2.fileio.table import read_table, write_table

    videos, feats = read_table(dump / "video.scp"), read_table(feats_scp)
    keys = sorted(set(videos) & set(feats))
    files = {spec.rsplit(":", 1)[0] if not spec.endswith(".mp4") else spec for spec in videos.values()}
    size = sum(Path(f).stat().st_size for f in files)
    copies = math.ceil(utts / len(keys))
    names = [(f"{key}-r{copy:03d}", key) for copy in range(copies) for key in keys][:utts]
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "video.scp", {name: videos[key] for name, key in names})
    write_table(out / "feats.scp", {name: feats[key] for name, key in names})
    return out / "video.scp", out / "feats.scp", round(size / len(videos))


# ---------------------------------------------------------------------------------------------
# The measurement, in a child process per storage.


def training_args(train_config: Path) -> argparse.Namespace:
    """The options ``build_preprocess_fn`` reads, from the training config (task defaults else)."""
    import yaml

    with open(train_config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    return argparse.Namespace(
        use_preprocessor=conf.get("use_preprocessor", True),
        model_conf=conf.get("model_conf", {}),
        hflip_prob=conf.get("hflip_prob", 0.5),
        blank_video=conf.get("blank_video", False),
        blank_value=conf.get("blank_value", 128.0),
    )


def build_dataset(video_scp: str, feats_scp: str, loader_type: str, train_config: Path, train: bool = True):
    from espnet2.train.dataset import ESPnetDataset

    from lipsound2.tasks.lipsound2 import LipSound2Task

    register_luma_type()
    args = training_args(train_config)
    dataset = ESPnetDataset(
        [(video_scp, "video", loader_type), (feats_scp, "feats", "kaldi_ark")],
        preprocess=LipSound2Task.build_preprocess_fn(args, train=train),
    )
    return dataset, LipSound2Task.build_collate_fn(args, train=train)


def measure(job: dict) -> dict:
    """Run in a fresh process: the loader in-process, then through DataLoader workers."""
    import torch
    from espnet2.iterators.sequence_iter_factory import SequenceIterFactory

    torch.set_num_threads(1)
    dataset, collate = build_dataset(
        job["video_scp"], job["feats_scp"], job["loader_type"], Path(job["train_config"])
    )
    with open("/proc/self/status") as f:  # before any track is read: the imports and tables
        base_rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    keys = list(dataset.loader_dict["video"])
    random.Random(0).shuffle(keys)
    bs = job["batch_size"]
    batches = [tuple(keys[i : i + bs]) for i in range(0, len(keys) - bs + 1, bs)]
    shape = None

    def run(num_workers: int, epoch: int) -> tuple[float, float, int]:
        nonlocal shape
        factory = SequenceIterFactory(
            dataset, batches, seed=0, shuffle=True, num_workers=num_workers, collate_fn=collate
        )
        wall, cpu, count = time.perf_counter(), time.process_time(), 0
        for utts, batch in factory.build_iter(epoch):
            count += len(utts)
            shape = tuple(batch["video"].shape)
        return time.perf_counter() - wall, time.process_time() - cpu, count

    # warm-up: one batch, imports and first file opens
    factory = SequenceIterFactory(dataset, batches[:1], num_workers=0, collate_fn=collate)
    for _ in factory.build_iter(0):
        pass
    wall, cpu, count = run(0, 1)
    result = {
        "utterances": count,
        "batch_shape": shape,
        "in_process": {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)},
        "utt_per_s_per_worker": round(count / cpu, 1),
        "ms_per_utt": round(1000 * cpu / count, 2),
        "rss_before_reading_mib": round(base_rss),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "workers": {},
    }
    for num_workers in job["workers"]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, main_cpu, count = run(num_workers, 2)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        result["workers"][str(num_workers)] = {
            "wall_s": round(wall, 3),
            "utt_per_s": round(count / wall, 1),
            "worker_cpu_s": round(worker_cpu, 3),
            "utt_per_worker_cpu_s": round(count / worker_cpu, 1),
            "main_cpu_s": round(main_cpu, 3),
        }
    result["worker_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return result


def model_inputs(video_scp: Path, feats_scp: Path, loader_type: str, train_config: Path, count: int):
    """The model's video input (no flips) of the first ``count`` utterances."""
    dataset, _ = build_dataset(str(video_scp), str(feats_scp), loader_type, train_config, train=False)
    keys = sorted(dataset.loader_dict["video"])[:count]
    return {key: dataset[key][1]["video"] for key in keys}


# ---------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()[0]
    python = platform.python_version()
    return f"{os.cpu_count()} CPU cores ({cpu}), load average {load:.1f} at the start, Python {python}"


def markdown(results: dict) -> str:
    workers = results["workers"]
    target = results["target_utt_per_s"]
    head = ["storage", "bytes/utt on disk", "utt/s per worker (CPU s of the workers)", "same, in-process"]
    head += [f"utt/s, {w} worker{'s' if w > 1 else ''} (wall)" for w in workers]
    head += ["peak RSS, loader process (MiB; before reading)", "peak RSS, one worker (MiB)"]
    head += ["input vs lossless (gray levels)"]
    head += [f"workers for {target:.0f} utt/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in results["rows"]:
        cells = [
            row["description"],
            f"{row['bytes_per_utt']:,}",
            f"{row['utt_per_worker_cpu_s']:.0f}",
            f"{row['utt_per_s_per_worker']:.0f}",
        ]
        cells += [f"{row['workers'][str(w)]['utt_per_s']:.0f}" for w in workers]
        cells += [f"{row['peak_rss_mib']} ({row['rss_before_reading_mib']})", str(row["worker_peak_rss_mib"])]
        cells += [f"{row['input_diff']:.2f}"]
        cells += [str(row["workers_needed"])]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        f"Machine: {results['machine']}. {results['utterances']} utterances per row in batches of "
        f"{results['batch_size']} ({results['clips']} clips replicated), "
        f"batch video {results['batch_shape']}.\n\n" + "\n".join(lines) + "\n"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", nargs="*", type=Path, help="default: the first --num_clips GRID s1 clips")
    p.add_argument("--num_clips", type=int, default=10)
    p.add_argument("--formats", nargs="+", choices=list(FORMATS), default=list(FORMATS))
    p.add_argument("--utts", type=int, default=320, help="utterances read per row (replicated clips)")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="DataLoader num_workers to time")
    p.add_argument("--train_config", type=Path, default=ROOT / "egs/TEMPLATE/conf/train_paper.yaml")
    p.add_argument("--update_s", type=float, default=TARGET_UPDATE_S, help="seconds per update to feed")
    p.add_argument("--work_dir", type=Path, help="keep the dumps here (default: a temporary folder)")
    p.add_argument("--out_dir", type=Path, help="write results.json and results.md here")
    p.add_argument("--_measure", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._measure:
        print(json.dumps(measure(json.loads(args._measure))))
        return
    import numpy as np

    clips = args.clips or default_clips(args.num_clips)
    target = args.batch_size / args.update_s
    results = {
        "machine": machine(),
        "clips": len(clips),
        "utterances": args.utts,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "target_utt_per_s": round(target, 1),
        "rows": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        needed = {FORMATS[name][:2] for name in args.formats} | {(False, "ark")}
        start = time.perf_counter()
        dumps = prepare(clips, work, needed)
        seconds = time.perf_counter() - start
        print(f"stages 1-2 for {len(needed)} storages of {len(clips)} clips: {seconds:.0f} s")
        feats_scp = work / "feats" / "feats.scp"
        ref_scp, ref_feats, _ = replicate(dumps[False, "ark"], feats_scp, len(clips), work / "ref")
        reference = model_inputs(ref_scp, ref_feats, "face_track", args.train_config, len(clips))
        for name in args.formats:
            gray, fmt, loader_type, description = FORMATS[name]
            dump = dumps[gray, fmt]
            video_scp, feats_rep, per_utt = replicate(dump, feats_scp, args.utts, work / f"rep_{name}")
            job = {
                "video_scp": str(video_scp),
                "feats_scp": str(feats_rep),
                "loader_type": loader_type,
                "train_config": str(args.train_config),
                "batch_size": args.batch_size,
                "workers": args.workers,
            }
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            out = subprocess.run(
                [sys.executable, __file__, "--_measure", json.dumps(job)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                raise RuntimeError(f"{name}: measurement failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            one_scp, one_feats, _ = replicate(dumps[gray, fmt], feats_scp, len(clips), work / f"one_{name}")
            inputs = model_inputs(one_scp, one_feats, loader_type, args.train_config, len(clips))
            diffs = [np.abs(inputs[k] - reference[k]).mean() for k in reference]
            results["batch_shape"] = row.pop("batch_shape")
            # per worker: CPU seconds of the DataLoader workers (reading, preprocessing, collating
            # and handing the batch over), else those of the in-process loader
            first = row["workers"][str(args.workers[0])] if args.workers else {}
            rate = first.get("utt_per_worker_cpu_s", row["utt_per_s_per_worker"])
            row.update(
                name=name,
                description=description,
                bytes_per_utt=per_utt,
                input_diff=round(float(np.mean(diffs)), 3),
                utt_per_worker_cpu_s=rate,
                workers_needed=math.ceil(target / rate),
            )
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    table = markdown(results)
    print(table)
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out_dir / "results.md").write_text(table)


if __name__ == "__main__":
    main()

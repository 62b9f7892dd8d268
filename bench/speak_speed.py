"""Speed of the whole path, video file to wav: ``lipsound2-speak`` against the recipe's
stages 1, 5 and 6 on the same video.

For each model (the CPU config ``train_cpu.yaml`` with stage 5's ``inference.yaml``, int8
weights; the paper-size ``train_paper.yaml`` with the paper's ``inference_paper.yaml``, fp32,
and with ``inference.yaml``, int8) an untrained model is built and packed with
``lipsound2.bin.pack``. Untrained weights cost what trained ones cost, as long as the number
of decoder steps is fixed: all are decoded with ``stop_mode known_length`` (2.5 mel frames per
video frame), since an untrained model never reaches the visual period and would run to the
step cap. The vocoder is Griffin-Lim (32 iterations), the
demo's.

Then, each in a fresh process as a user or the stage script starts it:

* ``speak``: ``python -m lipsound2.bin.speak VIDEO --model PACK -o OUT`` (front end, network,
  vocoder; the command's own line gives the seconds of work without start-up and loading);
* the recipe's stages: ``prepare_av`` and ``merge_jobs`` (stage 1), ``infer`` (stage 5),
  ``vocode`` (stage 6), with the options ``egs/TEMPLATE/lipsound2.sh`` passes (so ``infer``
  runs with its default of one thread; the stage script's bookkeeping, the data-directory
  check and the alignment plots, is left out).

First, in one process, the seconds of each part (front end, network, vocoder) on the
video at 1 and 2 torch threads alternately, without start-up. Then per process: wall seconds
from start to exit, the real-time factor (wall seconds per
second of video) and the peak resident memory (of the process alone: this script imports
neither torch nor lipsound2, and builds the models in a child process, so no child starts
as a copy of a large parent). Run with the threads you mean to measure:

    OMP_NUM_THREADS=2 python bench/speak_speed.py [--video CLIP] [--repeats 3]

Other processes on the machine slow every figure alike; compare the two paths within a run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "egs" / "TEMPLATE" / "conf"
# model config, stage 5's inference config (fp32 for the paper's settings, int8 by default)
SIZES = {
    "cpu": ("train_cpu.yaml", "inference.yaml"),
    "paper": ("train_paper.yaml", "inference_paper.yaml"),
    "paper_int8": ("train_paper.yaml", "inference.yaml"),
}


def default_video() -> Path | None:
    """GRID s1 bbaf2n from the real clips: $LIPSOUND2_REALDATA or ../shared/realdata (as the tests)."""
    env = os.environ.get("LIPSOUND2_REALDATA")
    bases = (
        [Path(env)]
        if env
        else [ROOT.parent / "shared" / "realdata", ROOT.parent.parent / "shared" / "realdata"]
    )
    for base in bases:
        clip = base / "GRID_s1" / "s1" / "bbaf2n.mpg"
        if clip.is_file():
            return clip
    return None


def untrained_pack(size: str, work: Path) -> Path:
    """An untrained model of ``size``, packed with the recipe's inference config (in a child
    process, see the module's docstring)."""
    run([sys.executable, __file__, "--build_model", size, str(work)], work / "build.log")
    train_yaml, inference_yaml = SIZES[size]
    exp = work / f"exp_{size}"
    pack = work / f"{size}.zip"
    run(
        [sys.executable, "-m", "lipsound2.bin.pack", "--train_config", str(exp / "config.yaml"),
         "--model_file", str(exp / "model.pth"), "--frontend_config", str(CONF / "frontend.yaml"),
         "--inference_config", str(CONF / inference_yaml), "--vocoder_type", "griffin_lim",
         "--vocoder_config", str(CONF / "vocoder_hifigan_cpu.yaml"), "--outpath", str(pack)],
        work / "pack.log",
    )  # fmt: skip
    return pack


def build_model(size: str, work: Path) -> None:
    """``exp_<size>/config.yaml`` and the untrained ``model.pth``."""
    import argparse

    import torch

    from lipsound2.tasks.build import build_model as build

    exp = work / f"exp_{size}"
    exp.mkdir(parents=True)
    config = yaml.safe_load((CONF / SIZES[size][0]).read_text())
    config["model_conf"]["stop_mode"] = "known_length"
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    args = argparse.Namespace(**config, frontend_config=str(CONF / "frontend.yaml"))
    torch.save(build(args).state_dict(), exp / "model.pth")


def run(cmd: list[str], log: Path) -> tuple[float, float, str]:
    """Run ``cmd``; its wall seconds, peak resident memory in MB and stdout. Fails loudly."""
    start = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed, see {log}:\n{log.read_text()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def speak(video: Path, pack: Path, work: Path) -> dict:
    out = work / "speak_out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "lipsound2.bin.speak",
        str(video),
        "--model",
        str(pack),
        "-o",
        str(out),
        "--quiet",
    ]
    wall, rss, stdout = run(cmd, work / "speak.log")
    seconds, rest = stdout.split(" -> ")[1].split(": ")[1].split(" s of video in ")
    return {"speak": (wall, rss), "work": float(rest.split(" s")[0]), "seconds": float(seconds)}


def stages(video: Path, exp: Path, inference_yaml: str, work: Path) -> dict:
    """Stages 1, 5 and 6 on one utterance, as the stage script runs them."""
    py = sys.executable
    data, dump, dec = work / "data", work / "dump", work / "decode"
    for d in (data, dump, dec):
        shutil.rmtree(d, ignore_errors=True)
    data.mkdir(parents=True)
    (data / "video.scp").write_text(f"utt {video}\n")
    (data / "utt2spk").write_text("utt spk\n")
    (data / "spk2utt").write_text("spk utt\n")
    front = str(CONF / "frontend.yaml")
    out1 = dump / "logs" / "output.1"
    times = {}
    times["stage 1: prepare_av"] = run(
        [py, "-m", "lipsound2.bin.prepare_av", "--frontend_config", front,
         "--video_scp", str(data / "video.scp"), "--media_dir", str(dump / "data"),
         "--out_dir", str(out1), "--job_tag", "1"],
        work / "stage1.log",
    )[:2]  # fmt: skip
    times["stage 1: merge_jobs"] = run(
        [py, "-m", "lipsound2.bin.merge_jobs", "--name", "Stage 1", "--src_dir", str(data), "--dst_dir",
         str(dump), "--tables", "video.scp", "wav.scp", "utt2num_vframes", "--max_reject_share", "0.1",
         str(out1)],
        work / "merge.log",
    )[:2]  # fmt: skip
    times["stage 5: infer"] = run(
        [py, "-m", "lipsound2.bin.infer", "--train_config", str(exp / "config.yaml"),
         "--frontend_config", front, "--model_file", str(exp / "model.pth"),
         "--inference_config", str(CONF / inference_yaml), "--data_path", str(dump / "video.scp"),
         "--output_dir", str(dec)],
        work / "stage5.log",
    )[:2]  # fmt: skip
    times["stage 6: vocode"] = run(
        [py, "-m", "lipsound2.bin.vocode", "--feats_scp", str(dec / "feats.scp"), "--outdir", str(dec),
         "--wav_scp", str(dec / "wav.scp"), "--vocoder_type", "griffin_lim", "--vocoder_config",
         str(CONF / "vocoder_hifigan_cpu.yaml"), "--frontend_config", front],
        work / "stage6.log",
    )[:2]  # fmt: skip
    return times


def report(runs: list[tuple[dict, dict]]) -> None:
    """A markdown table of the runs' medians (wall, real-time factor) and peak memory."""
    seconds = runs[0][0]["seconds"]
    rows = {"lipsound2-speak (whole process)": [r[0]["speak"] for r in runs]}
    rows |= {name: [r[1][name] for r in runs] for name in runs[0][1]}
    rows["stages 1 + 5 + 6 (sum)"] = [
        (sum(w for w, _ in r[1].values()), max(m for _, m in r[1].values())) for r in runs
    ]
    print(f"{seconds:.2f} s of video")
    print("| process | wall s | real-time factor | peak RSS MB |")
    print("| --- | --- | --- | --- |")
    for name, values in rows.items():
        wall = statistics.median(w for w, _ in values)
        print(f"| {name} | {wall:.2f} | {wall / seconds:.3f} | {max(m for _, m in values):.0f} |")
        if name.startswith("lipsound2-speak"):
            work = statistics.median(r[0]["work"] for r in runs)
            print(f"| lipsound2-speak, its work only (its own line) | {work:.2f} | {work / seconds:.3f} | |")


def time_parts(pack: Path, video: Path, repeats: int) -> None:
    """In this process: seconds of the front end, the network and the vocoder on ``video``, at
    1 and 2 torch threads alternately (medians over ``repeats``), as markdown rows."""
    import torch

    from lipsound2.frontend.pipeline import make_detector, prepare_video
    from lipsound2.inference import Video2Speech

    v2s = Video2Speech.from_pretrained(pack)
    detector = make_detector(v2s.frontend)
    times: dict[int, list[tuple[float, float, float]]] = {1: [], 2: []}
    for _ in range(repeats):
        for threads in times:
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            track = prepare_video(str(video), v2s.frontend, detector).crops
            t1 = time.perf_counter()
            mel = v2s.mel({"utt": track})["utt"].mel
            t2 = time.perf_counter()
            v2s.vocode(mel)
            times[threads].append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    seconds = len(track) / v2s.fps
    for threads, rows in times.items():
        parts = [statistics.median(row[i] for row in rows) for i in range(3)]
        cells = " | ".join(f"{x:.2f}" for x in parts)
        print(f"| {threads} | {cells} | {sum(parts):.2f} | {sum(parts) / seconds:.3f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=default_video(), help="default: GRID s1 bbaf2n (3 s)")
    p.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    p.add_argument("--repeats", type=int, default=3, help="runs of each path; medians are reported")
    p.add_argument("--parts_only", action="store_true", help="only the in-process times of the parts")
    p.add_argument("--build_model", nargs=2, metavar=("SIZE", "WORK"), help=argparse.SUPPRESS)
    p.add_argument("--time_parts", type=Path, metavar="PACK", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.build_model:
        build_model(args.build_model[0], Path(args.build_model[1]))
        return
    if args.time_parts:
        time_parts(args.time_parts, args.video, args.repeats)
        return
    if args.video is None:
        raise SystemExit("no --video given and the real clips were not found (set LIPSOUND2_REALDATA)")
    print(f"video {args.video.name}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"load average at start {os.getloadavg()[0]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="speak_speed") as tmp:
        work = Path(tmp)
        for size in args.sizes:
            pack = untrained_pack(size, work)
            print(f"\n{size} config ({SIZES[size][0]}, {SIZES[size][1]}), medians of {args.repeats} runs")
            cmd = [sys.executable, __file__, "--time_parts", str(pack), "--video", str(args.video)]
            parts = run([*cmd, "--repeats", str(args.repeats)], work / "parts.log")[2]
            print(f"in one process, load average now {os.getloadavg()[0]:.2f}:")
            print("| threads | front end s | network s | vocoder s | total s | real-time factor |")
            print("| --- | --- | --- | --- | --- | --- |")
            print(parts, end="")
            if args.parts_only:
                continue
            runs = []
            for _ in range(args.repeats):
                spoken = speak(args.video, pack, work)
                recipe = stages(args.video, work / f"exp_{size}", SIZES[size][1], work)
                runs.append((spoken, recipe))
            print(f"each in a fresh process, load average now {os.getloadavg()[0]:.2f}:")
            report(runs)


if __name__ == "__main__":
    main()

"""LipSound2's decoder against ESPnet's Tacotron 2 decoder with the same sizes, one process.

Both get the same encoder memory (B, N, 256) and targets (B, L, 80): attention LSTM /
decoder LSTMs of 1024, PreNet to 256, location attention 128 with 32 filters, PostNet
5 x 512. Reports the training-step time (forward + backward, batch B), the batch-1
free-running inference time and real-time factor (62.5 mel frames per second; ours with
PostNet, as ESPnet's ``inference`` includes its PostNet), the whole model's video-to-mel RTF
at batch 1 and B, and the peak memory each part adds. Inference runs at each precision of
``lipsound2.nets.precision`` (fp32, bf16 and int8 weights); ESPnet's decoder is also timed
with the same int8 quantisation, so int8 can be compared with int8.

Ours and ESPnet's calls alternate within each round and the figures are medians over the
rounds, so load from other processes hits both alike; compare the ratios, not the seconds.
With ``--memory`` each call's peak memory is measured once more in a fresh child process.

    OMP_NUM_THREADS=2 python bench/network_speed.py --threads 2 --memory

As ``lipsound2.bin.infer`` does, the process first keeps large freed blocks for reuse
(``lipsound2.runtime.malloc``); ``--default_allocator`` measures without that.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import torch
from espnet.nets.pytorch_backend.rnn.attentions import AttLoc
from espnet.nets.pytorch_backend.tacotron2.decoder import Decoder as EspnetDecoder
from torch.ao.quantization import per_channel_dynamic_qconfig

from lipsound2.frontend.config import FrontendConfig
from lipsound2.nets.encoder import sequence_mask
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.precision import with_precision
from lipsound2.runtime.malloc import reuse_large_allocations

FEATURES = FrontendConfig()  # the paper's feature settings (the template's conf/frontend.yaml)
FPS_MEL = FEATURES.mel.frames_per_second
FPS_VIDEO = FEATURES.video.fps
N_MELS = FEATURES.mel.n_mels


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def peak_extra_mb(fn: Callable[[], object]) -> float:
    """The most resident memory ``fn`` adds over what the process held before, sampled every 2 ms."""
    base, peak, running = rss_mb(), [0.0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        fn()
    finally:
        running[0] = False
        sampler.join()
    return max(peak[0], rss_mb()) - base


def rounds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, the functions alternating within each round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


Parts = dict[str, dict[str, Callable[[], object]]]


def build(args: argparse.Namespace) -> Parts:
    """The measured calls, by section: ``train``, ``decode`` (from encoder memory), ``video``."""
    torch.manual_seed(0)
    n, length, b = args.video_frames, int(args.video_frames * FEATURES.mel_per_video_frame), args.batch
    memory = torch.randn(b, n, 256)
    targets = torch.randn(b, length, N_MELS)
    lengths = torch.full((b,), n)
    pad = ~sequence_mask(lengths, n)
    ours = LipSound2(N_MELS, stop_mode="known_length", mel_per_video_frame=FEATURES.mel_per_video_frame)
    espnet = EspnetDecoder(
        256,
        N_MELS,
        AttLoc(256, 1024, 128, 32, 15),
        dlayers=2,
        dunits=1024,
        prenet_layers=2,
        prenet_units=256,
        postnet_layers=5,
        postnet_chans=512,
        postnet_filts=5,
    )
    ours.eval()  # the eval-mode calls switch nothing; the train section switches to train() itself
    espnet.eval()
    low = {precision: with_precision(ours, precision) for precision in ("bf16", "int8")}
    # ESPnet's decoder quantised the same way (its LSTMs are LSTMCells): a same-precision peer
    q_espnet = torch.ao.quantization.quantize_dynamic(
        espnet, {torch.nn.Linear: per_channel_dynamic_qconfig, torch.nn.LSTMCell: per_channel_dynamic_qconfig}
    ).eval()

    def train(model: torch.nn.Module, step: Callable[[], tuple[torch.Tensor, torch.Tensor]]):
        def run() -> None:
            model.train()
            after, before = step()
            (((before - targets) ** 2).mean() + ((after - targets) ** 2).mean()).backward()
            model.eval()

        return run

    def ours_step() -> tuple[torch.Tensor, torch.Tensor]:
        dec, _ = ours.decoder(memory, pad, targets)
        return dec + ours.postnet(dec), dec

    def espnet_step() -> tuple[torch.Tensor, torch.Tensor]:
        after, before, _, _ = espnet(memory, lengths, targets)
        return after, before

    def decode(model: LipSound2, batch: int) -> Callable[[], object]:
        def run() -> torch.Tensor:
            with torch.inference_mode():
                frames, _, _ = model.decoder.generate(
                    memory[:batch], pad[:batch], None, torch.full((batch,), length), length
                )
                return frames + model.postnet(frames)

        return run

    def espnet_decode(model: EspnetDecoder) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                ratio = length / n
                return model.inference(memory[0], threshold=2.0, minlenratio=ratio, maxlenratio=ratio)

        return run

    video = torch.randint(0, 256, (b, n, 112, 112)).float()
    vl = torch.full((b,), n)

    def to_mel(model: LipSound2, batch: int) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return model.generate(video[:batch], vl[:batch])

        return run

    return {
        "train": {"ours": train(ours, ours_step), "espnet": train(espnet, espnet_step)},
        "decode": {
            "espnet batch 1": espnet_decode(espnet),
            "espnet int8 batch 1": espnet_decode(q_espnet),
            "ours fp32 batch 1": decode(ours, 1),
            **{f"ours {p} batch 1": decode(model, 1) for p, model in low.items()},
            f"ours fp32 batch {b}": decode(ours, b),
            **{f"ours {p} batch {b}": decode(model, b) for p, model in low.items()},
        },
        "video": {
            f"{p} batch {batch}": to_mel(model, batch)
            for batch in (1, b)
            for p, model in {"fp32": ours, **low}.items()
        },
    }


def peak_in_child(args: argparse.Namespace, section: str, name: str) -> float:
    """Peak extra memory of one call, measured in a fresh process so no freed memory is reused."""
    cmd = [sys.executable, __file__, "--threads", str(args.threads), "--batch", str(args.batch)]
    cmd += ["--video_frames", str(args.video_frames), "--memory_of", f"{section}:{name}"]
    cmd += ["--default_allocator"] if args.default_allocator else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--video_frames", type=int, default=75, help="3 s of 25 fps video (a GRID sentence)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sections", default="train,decode,video", help="comma-separated subset to run")
    p.add_argument("--memory", action="store_true", help="also measure each call's peak memory (slower)")
    p.add_argument("--default_allocator", action="store_true", help="do not keep large freed blocks")
    p.add_argument("--memory_of", default=None, help=argparse.SUPPRESS)  # SECTION:NAME, in a child
    args = p.parse_args()
    allocator = "default" if args.default_allocator else f"reuse large blocks: {reuse_large_allocations()}"
    torch.set_num_threads(args.threads)
    parts = build(args)
    if args.memory_of:
        section, name = args.memory_of.split(":", 1)
        print(peak_extra_mb(parts[section][name]))
        return
    n, length, b = args.video_frames, int(args.video_frames * FEATURES.mel_per_video_frame), args.batch
    print(f"threads={args.threads} batch={b} N={n} L={length} repeats={args.repeats} allocator={allocator}")

    def memory(section: str, name: str) -> str:
        return f", peak extra memory {peak_in_child(args, section, name):.0f} MB" if args.memory else ""

    t = {}
    for section in args.sections.split(","):
        fns = parts[section]
        for fn in fns.values():
            fn()  # warm-up
        t[section] = rounds(fns, args.repeats)
    if "train" in t:
        train = t["train"]
        print(f"training step, batch {b}: speed-up {train['espnet'] / train['ours']:.2f}x")
        for name, secs in train.items():
            print(f"  {name}: {secs:.2f} s{memory('train', name)}")
    if "decode" in t:
        decode = t["decode"]
        seconds = length / FPS_MEL
        print(f"free-running decoding from encoder memory, {length} frames = {seconds:.1f} s per utterance:")
        for name, secs in decode.items():
            utts = int(name.rsplit(" ", 1)[1])
            # ESPnet's inference decodes one utterance a call
            speed = decode["espnet batch 1"] * utts / secs
            speed_int8 = decode["espnet int8 batch 1"] * utts / secs
            print(
                f"  {name}: {secs:.2f} s, RTF {secs / (utts * seconds):.4f}, "
                f"{speed:.2f}x espnet fp32, {speed_int8:.2f}x espnet int8{memory('decode', name)}"
            )
    if "video" in t:
        print(f"whole model, video to mel, {n} frames = {n / FPS_VIDEO:.1f} s per utterance:")
        for name, secs in t["video"].items():
            utts = int(name.rsplit(" ", 1)[1])
            print(f"  {name}: RTF {secs / (utts * n / FPS_VIDEO):.4f}{memory('video', name)}")


if __name__ == "__main__":
    main()

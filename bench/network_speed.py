"""LipSound2's decoder against ESPnet's Tacotron 2 decoder with the same sizes, one process.

Both get the same encoder memory (B, N, 256) and targets (B, L, 80): attention LSTM /
decoder LSTMs of 1024, PreNet to 256, location attention 128 with 32 filters of 31,
PostNet 5 x 512. Reports training-step time (forward + backward), batch-1 free-running
inference time and real-time factor (62.5 mel frames per second), the whole model's
video-to-mel RTF (fp32 and dynamic int8) and the process' peak RSS after each part.

    OMP_NUM_THREADS=2 python bench/network_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from espnet.nets.pytorch_backend.rnn.attentions import AttLoc
from espnet.nets.pytorch_backend.tacotron2.decoder import Decoder as EspnetDecoder

from lipsound2.nets.encoder import sequence_mask
from lipsound2.nets.lipsound2 import LipSound2

FPS_MEL = 62.5


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--video_frames", type=int, default=75, help="3 s of 25 fps video (a GRID sentence)")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, length, b = args.video_frames, int(args.video_frames * 2.5), args.batch
    memory = torch.randn(b, n, 256)
    targets = torch.randn(b, length, 80)
    lengths = torch.full((b,), n)
    ours = LipSound2(stop_mode="known_length")
    espnet = EspnetDecoder(
        256,
        80,
        AttLoc(256, 1024, 128, 32, 15),
        dlayers=2,
        dunits=1024,
        prenet_layers=2,
        prenet_units=256,
        postnet_layers=5,
        postnet_chans=512,
        postnet_filts=5,
    )
    print(f"threads={args.threads} batch={b} N={n} L={length}")
    ours_params = sum(q.numel() for m in (ours.decoder, ours.postnet) for q in m.parameters())
    espnet_params = sum(q.numel() for q in espnet.parameters())
    print(f"params: ours decoder+postnet {ours_params:,}  espnet decoder {espnet_params:,}")

    def ours_train() -> None:
        pad = ~sequence_mask(lengths, n)
        dec, _ = ours.decoder(memory, pad, targets)
        post = dec + ours.postnet(dec)
        (((dec - targets) ** 2).mean() + ((post - targets) ** 2).mean()).backward()

    def espnet_train() -> None:
        after, before, _, _ = espnet(memory, lengths, targets)
        (((before - targets) ** 2).mean() + ((after - targets) ** 2).mean()).backward()

    ours.train()
    espnet.train()
    t_ours = timed(ours_train, args.repeats)
    rss_ours = peak_rss_mb()
    t_esp = timed(espnet_train, args.repeats)
    rss_esp = peak_rss_mb()
    print(
        f"training step: ours {t_ours:.2f} s, espnet {t_esp:.2f} s, speed-up {t_esp / t_ours:.2f}x "
        f"(peak RSS after ours {rss_ours:.0f} MB, after espnet {rss_esp:.0f} MB)"
    )

    ours.eval()
    espnet.eval()
    one = memory[:1]
    pad1 = ~sequence_mask(lengths[:1], n)
    ratio = length / n
    with torch.no_grad():
        i_ours = timed(
            lambda: ours.decoder.generate(one, pad1, None, torch.tensor([length]), length), args.repeats
        )
        i_esp = timed(
            lambda: espnet.inference(one[0], threshold=2.0, minlenratio=ratio, maxlenratio=ratio),
            args.repeats,
        )
        q_ours = torch.ao.quantization.quantize_dynamic(ours, {torch.nn.Linear}, dtype=torch.qint8)
        i_q = timed(
            lambda: q_ours.decoder.generate(one, pad1, None, torch.tensor([length]), length), args.repeats
        )
        seconds = length / FPS_MEL
        print(
            f"batch-1 inference ({length} frames = {seconds:.1f} s): "
            f"ours {i_ours:.2f} s (RTF {i_ours / seconds:.3f}), "
            f"espnet {i_esp:.2f} s (RTF {i_esp / seconds:.3f}), speed-up {i_esp / i_ours:.2f}x; "
            f"ours int8 {i_q:.2f} s (RTF {i_q / seconds:.3f}, {i_esp / i_q:.2f}x)"
        )
        video = torch.randint(0, 256, (b, n, 112, 112)).float()
        vl = torch.full((b,), n)
        for name, model in (("fp32", ours), ("int8", q_ours)):
            t1 = timed(lambda m=model: m.generate(video[:1], vl[:1]), 1)
            tb = timed(lambda m=model: m.generate(video, vl), 1)
            print(
                f"video-to-mel {name}: batch 1 RTF {t1 / (n / 25):.3f}, batch {b} RTF {tb / (b * n / 25):.3f}"
            )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

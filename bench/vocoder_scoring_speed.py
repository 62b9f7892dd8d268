"""Real-time factors of the vocoders, the scorer and the judge, and the oracle quality on GRID.

Not a test: run by hand, figures go to docs/vocoders_asr_scoring.md.

  OMP_NUM_THREADS=2 python bench/vocoder_scoring_speed.py --grid_dir ../shared/realdata/GRID_rizkiarm_LipNet

RTF = processing seconds / audio seconds (below 1 is faster than real time), on the
threads torch is given. The GRID clips are split: HiFi-GAN (CPU demo config) trains on all
but ``--held_out`` clips; the oracle path (real log-mel -> vocoder) is scored on the rest
with both vocoders, so each vocoder is compared with its peer on the same audio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lipsound2.asr.judge import WhisperJudge
from lipsound2.fileio.wav import write_wav
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.decode import decode_audio
from lipsound2.frontend.mel import MelConfig, log_mel
from lipsound2.metrics.speech import speech_scores
from lipsound2.vocoders.griffin_lim import GriffinLimVocoder
from lipsound2.vocoders.hifigan import HiFiGANVocoder, build_generator, save_checkpoint
from lipsound2.vocoders.hifigan_train import TrainOptions, train_hifigan

ROOT = Path(__file__).resolve().parents[1]


def rtf(fn, items, seconds: float) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid_dir", type=Path, required=True)
    p.add_argument("--held_out", type=int, default=3)
    p.add_argument("--train_steps", type=int, default=None, help="override the CPU config's steps")
    args = p.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    clips = sorted(args.grid_dir.glob("*.mpg"))
    mel_config = MelConfig()  # the paper's settings, the template front end's
    wavs = [decode_audio(str(c), mel_config.sample_rate) for c in clips]
    wavs = [w / np.abs(w).max() for w in wavs]
    mels = [log_mel(w, mel_config) for w in wavs]
    seconds = sum(len(w) for w in wavs) / mel_config.sample_rate
    print(f"{len(clips)} GRID clips, {seconds:.1f} s of audio")

    cpu_conf = load_yaml(ROOT / "egs/TEMPLATE/conf/vocoder_hifigan_cpu.yaml")
    v1_conf = load_yaml(ROOT / "egs/TEMPLATE/conf/vocoder_hifigan.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = []
        for clip, w in zip(clips, wavs):
            write_wav(tmp / f"{clip.stem}.wav", w, mel_config.sample_rate)
            paths.append(str(tmp / f"{clip.stem}.wav"))
        options = TrainOptions(**cpu_conf["train"])
        if args.train_steps:
            options.steps = args.train_steps
        start = time.perf_counter()
        curve = train_hifigan(
            {Path(p).stem: p for p in paths[: -args.held_out]},
            tmp / "cpu",
            cpu_conf["generator_params"],
            cpu_conf["discriminator_params"],
            options,
            mel_config,
        )
        train_s = time.perf_counter() - start
        print(
            f"HiFi-GAN CPU config: {options.steps} steps in {train_s:.0f} s "
            f"({train_s / options.steps:.2f} s/step), mel L1 {curve[0][1]:.3f} -> {curve[-1][1]:.3f}"
        )
        hifi_cpu = HiFiGANVocoder(tmp / "cpu" / "vocoder.pth")
        v1_gen = build_generator(v1_conf["generator_params"], hifi_cpu.config)
        save_checkpoint(tmp / "v1.pth", v1_gen, v1_conf["generator_params"], hifi_cpu.config, 0)
        hifi_v1 = HiFiGANVocoder(tmp / "v1.pth")

    gl = GriffinLimVocoder(mel_config, n_iter=cpu_conf["griffin_lim"]["n_iter"])
    print("\nvocoder RTF (all clips):")
    for name, voc in (
        ("griffin_lim (32 it)", gl),
        ("hifigan CPU config", hifi_cpu),
        ("hifigan V1 (untrained)", hifi_v1),
    ):
        print(f"  {name:24s} RTF {rtf(voc, mels, seconds):.3f}")

    held = range(len(clips) - args.held_out, len(clips))
    print(f"\noracle path on {args.held_out} held-out clips ({', '.join(clips[i].stem for i in held)}):")
    for name, voc in (("griffin_lim", gl), ("hifigan CPU config", hifi_cpu)):
        scores = [speech_scores(wavs[i], voc(mels[i])) for i in held]
        mean = {k: np.nanmean([s.to_dict()[k] for s in scores]) for k in scores[0].to_dict()}
        print("  " + name.ljust(20) + "  ".join(f"{k} {v:.3f}" for k, v in mean.items()))

    outs = [gl(m) for m in mels]
    score_rtf = rtf(lambda i: speech_scores(wavs[i], outs[i]), range(len(wavs)), seconds)
    print(f"\nscoring RTF (PESQ NB+WB, STOI, ESTOI): {score_rtf:.3f}")
    judge = WhisperJudge(cpu_threads=torch.get_num_threads())
    print(f"judge RTF (Whisper tiny.en int8): {rtf(judge, wavs, seconds):.3f}")


if __name__ == "__main__":
    main()

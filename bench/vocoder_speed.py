"""CPU speed of Griffin-Lim and the pre-trained HiFi-GAN V1 (``hifigan_pretrained``) on one
thread, on real GRID mel, and what each way of running the generator costs in intelligibility.

Not a test: run by hand, figures go to docs/vocoders_asr_scoring.md.

  python bench/vocoder_speed.py --grid_dir ../shared/realdata/GRID_s1/s1 --clips 6

Each variant runs in its own process on one thread (``OMP_NUM_THREADS=1``,
``torch.set_num_threads(1)``), so that its peak resident memory is its own. RTF = CPU seconds
of vocoding (bridge, generator, resampling) per second of speech, after one warm-up clip;
ESTOI against the recording, and against the output of the plain float32 generator (the first
HiFi-GAN variant, run first) on the same ground-truth mel.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# name -> how the generator runs: precision, channels-last 2-D layout, output rate (None: its
# own 22.05 kHz), weight norm kept, TorchScript freezing, dynamic int8 quantisation, static int8
# quantisation (x86 backend, calibrated on other clips of the folder) with some modules kept
# in float32.
VARIANTS = {
    "griffin_lim": None,
    "v1_fp32": {"dtype": "fp32"},
    "v1_fp32_weight_norm": {"dtype": "fp32", "weight_norm": True},
    "v1_int8_dynamic": {"dtype": "fp32", "int8": True},
    "v1_bf16": {"dtype": "bf16"},
    "v1_fp32_channels_last": {"dtype": "fp32", "channels_last": True},
    "v1_bf16_channels_last": {"dtype": "bf16", "channels_last": True},
    "v1_bf16_channels_last_jit": {"dtype": "bf16", "channels_last": True, "jit": True},
    "v1_int8_static": {"dtype": "fp32", "channels_last": True, "int8_static": ()},
    "v1_int8_static_ends_fp32": {
        "dtype": "fp32",
        "channels_last": True,
        "int8_static": ("input_conv", "upsamples.3", "blocks.9", "blocks.10", "blocks.11", "output_conv"),
    },
    "v1_fp32_channels_last_16k": {"dtype": "fp32", "channels_last": True, "rate": 16000},
    "v1_bf16_channels_last_16k": {"dtype": "bf16", "channels_last": True, "rate": 16000},
    "hifigan_pretrained_default": {"factory": True},
}
REFERENCE = "v1_fp32"


def static_int8(generator, examples: list, fp32_modules: tuple[str, ...]):
    """``generator`` (ESPnet's HiFiGANGenerator, weight norm removed) quantised to int8 after
    calibration on ``examples`` (its inputs), the modules named ``fp32_modules`` left in float32."""
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    class Body(torch.nn.Module):  # the generator's forward without the speaker branch FX cannot trace
        def __init__(self) -> None:
            super().__init__()
            self.input_conv, self.upsamples = generator.input_conv, generator.upsamples
            self.blocks, self.output_conv = generator.blocks, generator.output_conv

        def forward(self, c: torch.Tensor) -> torch.Tensor:
            n = len(self.blocks) // len(self.upsamples)
            c = self.input_conv(c)
            for i, upsample in enumerate(self.upsamples):
                c = upsample(c)
                mixed = self.blocks[i * n](c)
                for j in range(1, n):
                    mixed = mixed + self.blocks[i * n + j](c)
                c = mixed * (1.0 / n)
            return self.output_conv(c)

    torch.backends.quantized.engine = "x86"
    qmap = get_default_qconfig_mapping("x86")
    for name in fp32_modules:
        qmap.set_module_name(name, None)
    prepared = prepare_fx(Body().eval(), qmap, example_inputs=(examples[0],))
    with torch.inference_mode():
        for x in examples:
            prepared(x)
    return convert_fx(prepared)


def build(name: str, mel_config, calibration: list):
    """A callable log-mel -> 16 kHz waveform for variant ``name``, and a note on it;
    ``calibration``: log-mels of other clips, for the static int8 variants."""
    import torch

    from lipsound2.vocoders.factory import build_vocoder
    from lipsound2.vocoders.griffin_lim import GriffinLimVocoder
    from lipsound2.vocoders.hifigan_pretrained import channels_last_2d, load_generator
    from lipsound2.vocoders.mel_bridge import HIFIGAN_V1_MEL, MelBridge

    spec = VARIANTS[name]
    if spec is None:
        return GriffinLimVocoder(mel_config), "32 iterations"
    if spec.get("factory"):
        vocoder = build_vocoder("hifigan_pretrained", {}, mel_config)
        return vocoder, f"precision auto -> {vocoder.precision}"
    bridge = MelBridge(mel_config, HIFIGAN_V1_MEL, rate=spec.get("rate"))
    generator = load_generator().eval()
    note = ""
    if not spec.get("weight_norm"):
        generator.remove_weight_norm()
    if spec.get("int8"):
        before = sum(1 for _ in generator.modules())
        generator = torch.ao.quantization.quantize_dynamic(
            generator, {torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.Linear}, dtype=torch.qint8
        )
        quantised = sum(1 for m in generator.modules() if "quantized" in type(m).__module__)
        note = f"{quantised} of {before} modules quantised (torch quantises no convolution dynamically)"
    dtype = torch.bfloat16 if spec["dtype"] == "bf16" else torch.float32
    if spec.get("channels_last"):
        generator = channels_last_2d(generator)
    generator = generator.to(dtype)

    def shape(theirs: torch.Tensor) -> torch.Tensor:
        x = theirs.to(dtype).unsqueeze(0)
        if spec.get("channels_last"):
            x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return x

    if "int8_static" in spec:
        generator = static_int8(generator, [shape(bridge(m)) for m in calibration], spec["int8_static"])
        note = f"float32: {', '.join(spec['int8_static']) or 'none'}"

    if spec.get("jit"):
        with torch.inference_mode():
            example = shape(torch.full((80, 100), -5.0))
            generator = torch.jit.optimize_for_inference(
                torch.jit.freeze(torch.jit.trace(generator, example))
            )

    def vocode(log_mel: np.ndarray) -> np.ndarray:
        theirs = bridge(log_mel)
        with torch.inference_mode():
            wav = generator(shape(theirs)).reshape(-1).float().numpy()
        return bridge.to_our_rate(wav, len(log_mel))

    return vocode, note


def run_variant(name: str, clips: list[Path], calibration: list[Path], reference_dir: Path) -> dict:
    """Vocode ``clips`` with variant ``name`` in this process (``calibration``: clips for the
    static int8 variants); write the outputs of the reference variant to ``reference_dir``,
    compare the others with them."""
    import torch

    torch.set_num_threads(1)
    from lipsound2.frontend.decode import decode_audio
    from lipsound2.frontend.mel import MelConfig, log_mel
    from lipsound2.metrics.speech import speech_scores

    config = MelConfig()
    audio = [decode_audio(str(clip), config.sample_rate) for clip in clips]
    mels = [log_mel(wav, config) for wav in audio]
    calibration_mels = []
    if "int8_static" in (VARIANTS[name] or {}):
        calibration_mels = [log_mel(decode_audio(str(c), config.sample_rate), config) for c in calibration]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    vocoder, note = build(name, config, calibration_mels)
    load_s = time.perf_counter() - start
    vocoder(mels[0])  # warm-up
    cpu, seconds, estoi, estoi_ref = 0.0, 0.0, [], []
    for clip, wav, mel in zip(clips, audio, mels):
        start = time.process_time()
        speech = vocoder(mel)
        cpu += time.process_time() - start
        seconds += len(speech) / config.sample_rate
        estoi.append(speech_scores(wav[: len(speech)], speech).estoi)
        ref_path = reference_dir / f"{clip.stem}.npy"
        if name == REFERENCE:
            np.save(ref_path, speech)
        elif VARIANTS[name] is not None and ref_path.is_file():
            estoi_ref.append(speech_scores(np.load(ref_path), speech).estoi)
    return {
        "variant": name,
        "rtf": cpu / seconds,
        "estoi": float(np.mean(estoi)),
        "estoi_vs_fp32": float(np.mean(estoi_ref)) if estoi_ref else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_vocoder_mb": rss_before,
        "load_s": load_s,
        "seconds": seconds,
        "note": note,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid_dir", default=str(ROOT.parent / "shared" / "realdata" / "GRID_s1" / "s1"))
    p.add_argument("--clips", type=int, default=6, help="clips, spread over the folder's sorted list")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--json", default=None, help="also write the rows here")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a child process: one variant
    p.add_argument("--reference_dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    paths = sorted(Path(args.grid_dir).glob("*.mpg"))
    if not paths:
        raise SystemExit(f"no .mpg clips in {args.grid_dir}")
    clips = [paths[i] for i in np.linspace(0, len(paths) - 1, min(args.clips, len(paths))).astype(int)]
    calibration = [path for path in paths[3::50] if path not in clips][:8]
    if args.one:
        print(json.dumps(run_variant(args.one, clips, calibration, Path(args.reference_dir))))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    variants = [REFERENCE] * (REFERENCE in args.variants) + [v for v in args.variants if v != REFERENCE]
    rows = []
    with tempfile.TemporaryDirectory() as reference_dir:
        for name in variants:
            cmd = [sys.executable, __file__, "--grid_dir", args.grid_dir, "--clips", str(args.clips)]
            cmd += ["--one", name, "--reference_dir", reference_dir]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{name}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(
                f"{name:28s} RTF {r['rtf']:.3f}  ESTOI {r['estoi']:.3f}  vs fp32 "
                f"{'-' if r['estoi_vs_fp32'] is None else format(r['estoi_vs_fp32'], '.3f')}  "
                f"peak RSS {r['peak_rss_mb']:.0f} MB (before the vocoder {r['rss_before_vocoder_mb']:.0f})  "
                f"load {r['load_s']:.1f} s  {r['note']}",
                flush=True,
            )
    print(f"{len(clips)} clips, {rows[0]['seconds'] if rows else 0:.1f} s of speech, one thread")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

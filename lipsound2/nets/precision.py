"""Weight precision of a trained model at inference: fp32, bfloat16 or dynamic int8.

Free-running decoding of a few utterances reads every decoder weight at every step (about
64 MB of fp32 weights per step at the paper's sizes), so on a CPU its speed is set by memory
traffic rather than arithmetic. ``bf16`` stores the ``Linear`` weights in bfloat16 (half the
bytes); ``int8`` quantises them dynamically, one scale per output row (a quarter). In both,
the values passed between layers, the LSTM cell state, the attention softmax and the
cumulative attention stay fp32, so rounding enters only through the weights and the inputs
of each product. Convolutions (the encoder's 3D CNN, the location filter, the PostNet) keep
fp32 weights in every mode.

bfloat16 products are fast only on CPUs with native bfloat16 instructions (AVX512-BF16 or
AMX) and on GPUs; int8 dynamic quantisation is CPU-only.
"""

from __future__ import annotations

import copy

import torch

PRECISIONS = ("fp32", "bf16", "int8")


class Bf16Linear(torch.nn.Module):
    """Inference-only ``Linear`` whose weight and bias are held in bfloat16.

    Takes and returns the caller's dtype: the input is rounded to bfloat16 for the product,
    which accumulates in fp32, and the result is cast back.
    """

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16))
        bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x.to(torch.bfloat16), self.weight, self.bias).to(x.dtype)

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


def _swap_linears(module: torch.nn.Module) -> None:
    for name, child in module.named_children():
        if type(child) is torch.nn.Linear:
            setattr(module, name, Bf16Linear(child))
        else:
            _swap_linears(child)


def with_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """``model`` for inference at ``precision``: the model itself for fp32, else a converted
    copy in eval mode (the original keeps its fp32 weights)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return model
    if precision == "int8":
        if any(p.device.type != "cpu" for p in model.parameters()):
            raise ValueError("int8 (dynamic quantisation) runs on the CPU only; use bf16 on a GPU")
        qconfig = {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
        return torch.ao.quantization.quantize_dynamic(model, qconfig).eval()
    converted = copy.deepcopy(model).eval()
    _swap_linears(converted)
    return converted

"""Inference precisions: the converted model stores smaller weights and computes what the fp32
model computes up to rounding, and the fp32 model it came from is left as it was."""

from __future__ import annotations

import pytest
import torch

from lipsound2.nets.lipsound2 import LipSound2
from lipsound2.nets.precision import Bf16Linear, with_precision
from lipsound2_testing.nets import TINY

# the shape tests' tiny model with LSTMs wide enough for per-row int8 scales to matter
SMALL = {
    **TINY,
    "decoder_conf": {**TINY["decoder_conf"], "attention_lstm_units": 128, "decoder_lstm_units": 128},
    "stop_mode": "known_length",
}


def _linear_weight_bytes(model: torch.nn.Module) -> int:
    total = 0
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, Bf16Linear)):
            total += module.weight.numel() * module.weight.element_size()
    return total


def _relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_bf16_linear_matches_linear_and_keeps_the_callers_dtype():
    torch.manual_seed(0)
    linear = torch.nn.Linear(300, 200)
    x = torch.randn(4, 300)
    converted = Bf16Linear(linear)
    got = converted(x)
    assert got.dtype == torch.float32 and converted.weight.dtype == torch.bfloat16
    assert _relative_difference(got, linear(x)) < 1e-2
    assert "in_features=300, out_features=200, bias=True" in repr(converted)


# Rounding of an untrained model's small outputs: about 0.5% (bf16) and 5% (int8); a wrong
# bias, layout or scale gives differences of the order of 100%.
@pytest.mark.parametrize(("precision", "bound"), [("bf16", 0.02), ("int8", 0.1)])
def test_converted_model_generates_what_fp32_generates(precision, bound):
    torch.manual_seed(1)
    model = LipSound2(**SMALL).eval()
    with torch.no_grad():  # Xavier initialisation zeroes the biases; give them values to round
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0.0, 0.1)
    video = torch.randint(0, 256, (3, 12, 112, 112)).float()
    lengths = torch.tensor([12, 10, 7])
    with torch.inference_mode():
        expected = model.generate(video, lengths)
        converted = with_precision(model, precision)
        got = converted.generate(video, lengths)
    assert torch.equal(got["mel_lengths"], expected["mel_lengths"])
    for i, n in enumerate(expected["mel_lengths"].tolist()):
        assert _relative_difference(got["mel"][i, :n], expected["mel"][i, :n]) < bound
    assert (got["attention"] - expected["attention"]).abs().max() < 0.05
    # the fp32 model is untouched and still the only holder of full-size weights
    assert all(type(m) is not Bf16Linear for m in model.modules())
    fp32_bytes = _linear_weight_bytes(model)
    if precision == "bf16":
        assert not any(type(m) is torch.nn.Linear for m in converted.modules())
        assert _linear_weight_bytes(converted) == fp32_bytes // 2
    else:
        quantized = [m for m in converted.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
        assert len(quantized) == sum(type(m) is torch.nn.Linear for m in model.modules())
        assert all(m.weight().dtype == torch.qint8 for m in quantized)


def test_fp32_is_the_model_itself_and_unknown_precisions_are_refused():
    model = LipSound2(**SMALL)
    assert with_precision(model, "fp32") is model
    with pytest.raises(ValueError, match="fp16"):
        with_precision(model, "fp16")

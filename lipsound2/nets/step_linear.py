"""A ``Linear`` applied once per step of a recurrence, with one weight-gradient product at the end.

Autograd differentiates a layer used at every decoder step step by step: each step's backward
forms a full ``(out, in)`` weight gradient from a batch of a few rows and adds it to the
running sum, so a 1024-unit LSTM writes and re-reads tens of MB per step. This module makes
each step's backward compute only the input gradient and keep the output gradient ``g_t``;
the weight gradient ``sum_t g_t^T x_t`` is then one matrix product over all steps (what
cuDNN's LSTM does). A scalar token that every step depends on carries the ordering: autograd
runs the token's backward after every step's backward, and that is where the product is formed.

Gradients of gradients (``create_graph``) are not supported and raise; without autograd, or
for a layer that is not a plain ``Linear`` (e.g. dynamically quantised), calls go to the
layer itself.

Under autocast (mixed precision) the weights are cast to autocast's dtype once, when the
``StepLinear`` is made, not at every step: autocast caches its casts of parameters only, and
the detached weights of the deferred path (or frozen ones) would otherwise be cast again at
every step, about 60 MB for the paper's decoder. The backward keeps the fp32 weight.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from lipsound2.nets.autocast import autocast_dtype


class _Steps:
    """What the steps of one pass hand to the token's backward: each used step's input and
    output gradient, and the transposed weight their backward share.

    It is filled only during backward, with tensors that carry no autograd history, and
    emptied by the token's backward. The autograd nodes hold it (``ctx.steps``); if it held
    a graph tensor, the cycle tensor -> node -> ``ctx`` -> record -> tensor would run through
    C++ autograd nodes that Python's collector cannot see, and every pass would leak its graph.
    """

    def __init__(self) -> None:
        self.count = 0
        self.records: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.weight_t: torch.Tensor | None = None

    def transposed(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight.t()`` stored contiguously, made at the first backward step of the pass.

        ``grad @ weight`` on the row-major ``(out, in)`` weight is slower than the same
        product on a transposed copy, and this product is repeated at every step."""
        if self.weight_t is None:
            self.weight_t = weight.t().contiguous()
        return self.weight_t

    def take(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The records in step order; the record is left empty for another backward pass."""
        records = [self.records[t] for t in sorted(self.records)]
        self.records, self.weight_t = {}, None
        return records


class _Token(torch.autograd.Function):
    @staticmethod
    def forward(ctx, steps: _Steps, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.steps = steps
        ctx.has_bias = bias is not None
        return weight.new_zeros(())

    @staticmethod
    @once_differentiable
    def backward(ctx, _: torch.Tensor) -> tuple[None, torch.Tensor | None, torch.Tensor | None]:
        records = ctx.steps.take()
        if not records:
            return None, None, None
        inputs = torch.cat([x for x, _ in records])
        grads = torch.cat([g for _, g in records])
        return None, grads.t() @ inputs.to(grads.dtype), grads.sum(0) if ctx.has_bias else None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        x: torch.Tensor,
        token: torch.Tensor,
        steps: _Steps,
        index: int,
        weight: torch.Tensor,
        forward_weight: torch.Tensor,
        forward_bias: torch.Tensor | None,
    ) -> torch.Tensor:
        """``linear(x, forward_weight, forward_bias)``: the weights as the forward uses them (cast
        once per pass under autocast); ``weight`` (the layer's own) is what the backward uses."""
        ctx.save_for_backward(x, weight)
        ctx.steps, ctx.index = steps, index
        return torch.nn.functional.linear(x, forward_weight, forward_bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad = grad.to(weight.dtype)
        ctx.steps.records[ctx.index] = (x.detach(), grad)
        x_grad = torch.nn.functional.linear(grad, ctx.steps.transposed(weight))
        return x_grad.to(x.dtype), grad.new_zeros(()), None, None, None, None, None


def _cast_once(tensor: torch.Tensor | None, dtype: torch.dtype | None) -> torch.Tensor | None:
    """``tensor`` as autocast would pass it to a product (``dtype``: autocast's, None if off):
    cast once here instead of by autocast at every call. Autocast casts floating tensors other
    than fp64; a tensor that needs a gradient keeps it through the cast."""
    if tensor is None or dtype is None or not tensor.is_floating_point():
        return tensor
    if tensor.dtype in (dtype, torch.float64):
        return tensor
    return tensor.to(dtype)


class StepLinear:
    """Calls ``linear`` on one step's input at a time within one forward pass.

    Create one per forward pass, before the loop and in the same autocast region as the calls:
    ``proj = StepLinear(layer)``, then ``proj(x_t)`` at each step. ``defer=False`` leaves the
    weight gradient to autograd (a layer whose gradient should be formed as usual) and only
    casts the weights once under autocast.
    """

    def __init__(self, linear: torch.nn.Module, defer: bool = True) -> None:
        self.linear = linear
        plain = type(linear) is torch.nn.Linear
        self.deferred = plain and defer and torch.is_grad_enabled() and linear.weight.requires_grad
        dtype = autocast_dtype(linear.weight.device) if plain else None
        self.cast = dtype is not None  # under autocast: call linear() on weights cast here, once
        if not (self.deferred or self.cast):
            return  # calls go to the layer
        weight, bias = linear.weight, linear.bias
        if self.deferred:
            self.steps = _Steps()
            self.token = _Token.apply(self.steps, weight, bias)
            weight, bias = weight.detach(), None if bias is None else bias.detach()
        self.weight = weight
        self.forward_weight, self.forward_bias = _cast_once(weight, dtype), _cast_once(bias, dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.deferred:
            self.steps.count += 1
            index = self.steps.count - 1
            return _Step.apply(
                x, self.token, self.steps, index, self.weight, self.forward_weight, self.forward_bias
            )
        if self.cast:
            return torch.nn.functional.linear(x, self.forward_weight, self.forward_bias)
        return self.linear(x)

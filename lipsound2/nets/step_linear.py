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
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


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
        bias: torch.Tensor | None,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.steps, ctx.index = steps, index
        return torch.nn.functional.linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None, None, None]:
        x, weight = ctx.saved_tensors
        grad = grad.to(weight.dtype)
        ctx.steps.records[ctx.index] = (x.detach(), grad)
        x_grad = torch.nn.functional.linear(grad, ctx.steps.transposed(weight))
        return x_grad.to(x.dtype), grad.new_zeros(()), None, None, None, None


class StepLinear:
    """Calls ``linear`` on one step's input at a time within one forward pass.

    Create one per forward pass, before the loop: ``proj = StepLinear(layer)``, then
    ``proj(x_t)`` at each step.
    """

    def __init__(self, linear: torch.nn.Module) -> None:
        self.linear = linear
        self.deferred = (
            type(linear) is torch.nn.Linear and torch.is_grad_enabled() and linear.weight.requires_grad
        )
        if self.deferred:
            self.steps = _Steps()
            self.token = _Token.apply(self.steps, linear.weight, linear.bias)
            self.weight = linear.weight.detach()
            self.bias = None if linear.bias is None else linear.bias.detach()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.deferred:
            return self.linear(x)
        self.steps.count += 1
        return _Step.apply(x, self.token, self.steps, self.steps.count - 1, self.weight, self.bias)

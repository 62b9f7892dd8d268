"""The fast decoder and encoder paths compute what a plain layer-by-layer model computes.

The decoder reference below reads the same parameters but runs every layer per step with
ordinary autograd (PreNet per frame, one ``Linear`` per use, no gradient deferral), so a
regression in the batched PreNet, the deferred weight gradients or the stop logic shows up as
a difference in outputs, losses or gradients. The encoder block is checked against its layers
applied in the paper's order (conv, BatchNorm, ReLU, pool)."""

from __future__ import annotations

import pytest
import torch

from lipsound2.nets.decoder import AttentionDecoder
from lipsound2.nets.encoder import ConvBlock3d, sequence_mask
from lipsound2.nets.step_linear import StepLinear
from lipsound2_testing.nets import SIZES, reference_decode


def _setup(seed=0):
    torch.manual_seed(seed)
    dec = AttentionDecoder(memory_size=32, **SIZES)
    for p in dec.parameters():  # default init is too small to make the attention move
        torch.nn.init.normal_(p, std=0.3)
    memory = torch.randn(3, 9, 32)
    pad_mask = ~sequence_mask(torch.tensor([9, 7, 4]), 9)
    targets = torch.randn(3, 20, 80)
    return dec, memory, pad_mask, targets


def test_teacher_forced_outputs_and_gradients_match_reference():
    dec, memory, pad_mask, targets = _setup()
    dec.train()
    memory.requires_grad_(True)
    results = []
    fast, reference = dec, lambda *args: reference_decode(dec, *args)
    for run in (fast, reference):
        dec.zero_grad()
        memory.grad = None
        frames, weights = run(memory, pad_mask, targets)
        loss = (frames**2).mean() + (weights * torch.arange(9.0)).sum()
        loss.backward()
        grads = {name: p.grad.clone() for name, p in dec.named_parameters()}
        results.append((frames.detach(), weights.detach(), grads, memory.grad.clone()))
    (f1, w1, g1, m1), (f2, w2, g2, m2) = results
    assert (f1 - f2).abs().max() < 1e-5 and (w1 - w2).abs().max() < 1e-5
    assert (m1 - m2).abs().max() < 1e-5
    assert set(g1) == set(g2)
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], atol=1e-5, rtol=1e-4, msg=name)
    # the attention moved away from uniform, so the comparison covers its gradients too
    assert g2["attention.location_conv.weight"].abs().max() > 1e-3


def test_scheduled_sampling_with_no_replacement_matches_teacher_forcing():
    dec, memory, pad_mask, targets = _setup(1)
    dec.train()
    expected = reference_decode(dec, memory, pad_mask, targets)[0]
    sampled = dec(memory, pad_mask, targets, sampling_prob=1e-12)[0]  # the per-step path
    assert (sampled - expected).abs().max() < 1e-5
    sampled.pow(2).mean().backward()
    assert all(p.grad is not None for p in dec.parameters())


def test_free_running_matches_reference():
    dec, memory, pad_mask, _ = _setup(2)
    dec.eval()
    frames, out_len, weights = dec.generate(memory, pad_mask, None, torch.tensor([12, 9, 5]), 30)
    with torch.no_grad():
        ref_frames, ref_weights = reference_decode(dec, memory, pad_mask, steps=12)
    assert out_len.tolist() == [12, 9, 5]
    assert (frames - ref_frames).abs().max() < 1e-5 and (weights - ref_weights).abs().max() < 1e-5


@pytest.mark.parametrize("seed", [3, 4])
def test_visual_period_stop_matches_reference(seed):
    dec, memory, pad_mask, _ = _setup(seed)
    dec.eval()
    with torch.no_grad():
        ref_frames, ref_weights = reference_decode(dec, memory, pad_mask, steps=25)
    # pretend the period frame is where each utterance attends at some step, so every one stops
    stop_index = ref_weights[torch.arange(3), torch.tensor([6, 3, 10])].argmax(1)
    peaks = ref_weights.argmax(2) == stop_index[:, None]
    peaks[:, 0] = False  # step 0 never stops
    expected = [int(row.nonzero()[0]) for row in peaks]
    frames, out_len, weights = dec.generate(memory, pad_mask, stop_index, None, 25)
    assert out_len.tolist() == expected and frames.shape[1] == max(expected)
    for i, n in enumerate(expected):
        assert (frames[i, :n] - ref_frames[i, :n]).abs().max() < 1e-5


def test_encoder_block_eval_folding_matches_layer_by_layer():
    """Eval mode folds BatchNorm into the conv and pools before the ReLU: same values."""
    torch.manual_seed(5)
    block = ConvBlock3d(2, 6, (5, 3, 3), (1, 2, 2), (2, 0, 0), (1, 2, 2), dropout=0.3)
    with torch.no_grad():
        block.norm.running_mean.normal_()
        block.norm.running_var.uniform_(0.5, 2.0)
        block.norm.weight.normal_()  # negative scales too: folding must come before the max
        block.norm.bias.normal_()
    block.eval()
    x = torch.randn(2, 2, 7, 20, 20)
    expected = block.pool(torch.relu(block.norm(block.conv(x))))
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)
    block.train()
    torch.manual_seed(6)
    got = block(x)
    torch.manual_seed(6)
    expected = block.dropout(block.pool(torch.relu(block.norm(block.conv(x)))))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("pool", [(1, 2, 2), (1, 3, 2)])
def test_encoder_slice_pool_matches_maxpool_values_and_gradients(pool):
    """The strided-slice max equals ``MaxPool3d`` on odd sizes (the last row/column dropped)."""
    torch.manual_seed(8)
    block = ConvBlock3d(1, 3, (5, 3, 3), (1, 1, 1), (2, 0, 0), pool, dropout=0.0)
    x = torch.randn(2, 3, 4, 11, 9, requires_grad=True)
    got = block._spatial_max(x)
    expected = block.pool(x)
    torch.testing.assert_close(got, expected, atol=0, rtol=0)
    weights = torch.randn_like(got)
    (grad_got,) = torch.autograd.grad((got * weights).sum(), x)
    (grad_expected,) = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(grad_got, grad_expected, atol=0, rtol=0)


def test_step_linear_weight_gradient_with_retained_graph_and_unused_steps():
    torch.manual_seed(7)
    layer = torch.nn.Linear(5, 3)
    xs = [torch.randn(2, 5, requires_grad=True) for _ in range(4)]
    proj = StepLinear(layer)
    ys = [proj(x) for x in xs]
    loss = sum((y * (t + 1)).sum() for t, y in enumerate(ys[:3]))  # the last step is unused
    loss.backward(retain_graph=True)
    weight_grad = layer.weight.grad.clone()
    expected = sum((t + 1) * torch.ones(2, 3).t() @ x.detach() for t, x in enumerate(xs[:3]))
    torch.testing.assert_close(weight_grad, expected)
    torch.testing.assert_close(layer.bias.grad, torch.full((3,), 2.0 * (1 + 2 + 3)))
    torch.testing.assert_close(xs[1].grad, 2 * torch.ones(2, 3) @ layer.weight.detach())
    assert xs[3].grad is None
    loss.backward()  # a second pass over the retained graph accumulates the same again
    torch.testing.assert_close(layer.weight.grad, 2 * weight_grad)
    with torch.no_grad():
        assert not StepLinear(layer).deferred

"""The decoder under autocast (the trainer's --use_amp), with CPU bfloat16 autocast standing in
for a GPU's: the recurrence keeps its state and attention in fp32 whatever the encoder's output
dtype, and each weight is cast to the lower precision once per pass, not once per step.

Tolerances: bfloat16 keeps 8 significant bits, so every product rounds its inputs and output
by up to 2^-9 (0.2%) relative, and the rounding passes through the PreNet, two LSTMs, the
attention and the projection at every step. Measured over 8-20 seeds: teacher-forced frames
0.6-0.8% from fp32 (bound 4%), attention weights (which sum to 1) within 0.005 (bound 0.03);
free running feeds each step's rounded frame back, and for the small decoder here, whose
weights are drawn large enough to move the attention, frames and LSTM outputs drift to at
most 3% in 12 steps (bound 6%); the whole model (Xavier init) generates mel within 1.3% (bound
4%) and attention within 0.0003 (bound 0.01; with the attention in bfloat16, as before the
fix, 0.001-0.004). A broken recurrence gives differences of the order of 100% or non-finite
values; the dtype checks are what catch state kept in the lower precision.
"""

from __future__ import annotations

import collections

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lipsound2.nets.decoder import AttentionDecoder
from lipsound2.nets.encoder import sequence_mask
from lipsound2.nets.lipsound2 import LipSound2
from lipsound2_testing.nets import SIZES, TINY, batch, reference_decode

BF16 = torch.bfloat16
STATE = ("att_h", "att_c", "dec_h", "dec_c", "context", "prev_w", "cum_w")


def _autocast(enabled: bool = True):
    return torch.autocast("cpu", dtype=BF16, enabled=enabled)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def _decoder(seed: int = 0) -> tuple[AttentionDecoder, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A decoder whose attention moves (weights drawn larger than the default init), bf16 memory
    (what a GPU's autocast makes of the encoder's LSTM output) and teacher-forcing targets."""
    torch.manual_seed(seed)
    dec = AttentionDecoder(memory_size=32, **SIZES).eval()
    for p in dec.parameters():
        torch.nn.init.normal_(p, std=0.3)
    memory = torch.randn(3, 9, 32).to(BF16)
    pad_mask = ~sequence_mask(torch.tensor([9, 7, 4]), 9)
    return dec, memory, pad_mask, torch.randn(3, 12, 80)


@pytest.fixture
def step_states(monkeypatch):
    """The dtypes of every state tensor after every decoder step (a pass-through record of the
    decoder's own ``_step``)."""
    seen: list[dict[str, torch.dtype]] = []
    step = AttentionDecoder._step

    def recording(self, prenet_gates, state, *args):
        weights = step(self, prenet_gates, state, *args)
        seen.append({**{k: state[k].dtype for k in STATE}, "weights": weights.dtype})
        return weights

    monkeypatch.setattr(AttentionDecoder, "_step", recording)
    return seen


def _all_fp32(seen: list[dict[str, torch.dtype]]) -> None:
    assert seen, "no decoder step ran"
    wrong = {k: v for step in seen for k, v in step.items() if v != torch.float32}
    assert not wrong, f"state not fp32 under autocast: {wrong}"


def test_initial_state_is_fp32_under_autocast_with_half_precision_memory():
    dec, memory, _, _ = _decoder()
    with _autocast():
        state = dec._initial_state(memory)
    assert {k: v.dtype for k, v in state.items()} == dict.fromkeys(STATE, torch.float32)
    # without autocast a model converted as a whole keeps its dtype
    assert {v.dtype for v in dec._initial_state(memory).values()} == {BF16}


def test_teacher_forced_decoding_under_autocast_keeps_fp32_state_close_to_fp32(step_states):
    dec, memory, pad_mask, targets = _decoder()
    with torch.no_grad():
        expected, expected_w, expected_h = dec(memory.float(), pad_mask, targets, return_hidden=True)
        step_states.clear()
        with _autocast():
            frames, weights, hidden = dec(memory, pad_mask, targets, return_hidden=True)
    _all_fp32(step_states)
    assert len(step_states) == 12
    assert weights.dtype == hidden.dtype == torch.float32
    assert torch.isfinite(frames).all() and torch.isfinite(weights).all()
    assert _relative(frames, expected) < 0.04
    assert _relative(hidden, expected_h) < 0.04
    assert (weights - expected_w).abs().max() < 0.03
    # the fp32 pass is the plain layer-by-layer decoder's (what autocast must approximate)
    ref_frames, _ = reference_decode(dec, memory.float(), pad_mask, targets=targets)
    torch.testing.assert_close(expected, ref_frames, atol=1e-5, rtol=1e-4)


def test_scheduled_sampling_under_autocast_keeps_fp32_state(step_states):
    dec, memory, pad_mask, targets = _decoder()
    dec.train()  # SIZES has no dropout: training mode only turns the sampling on
    with torch.no_grad(), _autocast():
        frames, weights = dec(memory, pad_mask, targets, sampling_prob=0.5)
    _all_fp32(step_states)
    assert weights.dtype == torch.float32 and torch.isfinite(frames).all()


def test_free_running_decoding_under_autocast_keeps_fp32_state_close_to_fp32(step_states):
    dec, memory, pad_mask, _ = _decoder()
    lengths = torch.tensor([12, 10, 8])
    expected, expected_len, expected_w, expected_h = dec.generate(
        memory.float(), pad_mask, None, lengths, 100, return_hidden=True
    )
    step_states.clear()
    with _autocast():
        frames, out_len, weights, hidden = dec.generate(
            memory, pad_mask, None, lengths, 100, return_hidden=True
        )
    _all_fp32(step_states)
    assert len(step_states) == 12
    assert torch.equal(out_len, expected_len)
    assert weights.dtype == hidden.dtype == torch.float32
    assert torch.isfinite(frames).all() and torch.isfinite(weights).all()
    assert _relative(frames, expected) < 0.06
    assert _relative(hidden, expected_h) < 0.06
    assert (weights - expected_w).abs().max() < 0.03


def test_model_under_autocast_keeps_fp32_attention_and_stays_close_to_fp32(step_states):
    """The whole model: a training step's loss and a free-running decode."""
    torch.manual_seed(0)
    conf = {**TINY, "decoder_conf": {**TINY["decoder_conf"], "reduction_factor": 2}}
    model = LipSound2(stop_mode="known_length", **conf).eval()
    video, vl, feats, fl = batch([6, 4], [15, 10])
    with torch.no_grad():
        expected, _, _ = model(video, vl, feats, fl)
        with _autocast():
            loss, _, _ = model(video, vl, feats, fl)
    # the loss of an untrained model is dominated by the targets: it agrees to far better than 1%
    assert torch.isfinite(loss) and float(loss) == pytest.approx(float(expected), rel=0.01)
    ref = model.generate(video, vl)
    step_states.clear()
    with _autocast():
        out = model.generate(video, vl)
    _all_fp32(step_states)
    assert out["attention"].dtype == torch.float32
    assert torch.equal(out["mel_lengths"], ref["mel_lengths"])
    for i, n in enumerate(ref["mel_lengths"].tolist()):
        assert torch.isfinite(out["mel"][i, :n]).all()
        assert _relative(out["mel"][i, :n], ref["mel"][i, :n]) < 0.04
    assert (out["attention"] - ref["attention"]).abs().max() < 0.01


class _WeightCasts(TorchDispatchMode):
    """Counts the dtype conversions (``aten::_to_copy``) of each of ``module``'s parameters,
    recognised by their storage (a detached weight shares its parameter's)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.names = {p.untyped_storage().data_ptr(): n for n, p in module.named_parameters()}
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._to_copy.default:
            name = self.names.get(args[0].untyped_storage().data_ptr())
            if name is not None:
                self.counts[name] += 1
        return func(*args, **(kwargs or {}))


def _decoder_casts(run, dec: AttentionDecoder, steps: int) -> collections.Counter:
    with _WeightCasts(dec) as casts:
        run(steps)
    return casts.counts


@pytest.mark.parametrize("frozen", [False, True], ids=["trained", "frozen"])
@pytest.mark.parametrize("mode", ["teacher_forced", "scheduled_sampling", "free_running"])
def test_each_weight_is_cast_once_per_pass_whatever_the_number_of_steps(mode, frozen):
    """Under autocast, the decoder's weights are cast to bfloat16 once per pass: the count of
    casts is the same for 6 and for 24 decoder steps, and no weight is cast twice. ``frozen``:
    weights that need no gradient (``freeze_decoder_updates``), which autocast does not cache."""
    dec, memory, pad_mask, _ = _decoder()
    dec.requires_grad_(not frozen)
    memory = memory.float().requires_grad_()  # the encoder's gradient still flows through

    def run(steps: int) -> None:
        """A pass of ``steps`` steps under autocast; a training pass's backward (outside autocast,
        as the trainer runs it) is counted too."""
        targets = torch.randn(3, steps, 80)
        dec.train(mode == "scheduled_sampling")
        with _autocast():
            if mode == "free_running":
                dec.generate(memory.detach(), pad_mask, None, torch.full((3,), steps), 100)
                return
            prob = 0.5 if mode == "scheduled_sampling" else 0.0
            frames, _ = dec(memory, pad_mask, targets, sampling_prob=prob)
        frames.float().sum().backward()

    short, long = _decoder_casts(run, dec, 6), _decoder_casts(run, dec, 24)
    assert short == long, f"casts grow with the steps: {short} for 6 steps, {long} for 24"
    assert max(long.values()) == 1, f"weights cast more than once per pass: {long}"
    assert {"att_recurrent.weight", "dec_lstm.weight", "attention.query_fc.weight"} <= set(long)

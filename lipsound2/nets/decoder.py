"""The attention decoder of Fig. 2: PreNet, attention LSTM, attention, decoder LSTM, projection.

Step ``t``: ``x = LSTM_att([prenet(o_{t-1}), v_{t-1}])`` (Eq. 2), attention on ``x`` gives
``v_t`` (Eq. 1, 3, 4), ``LSTM_dec([x, v_t])`` and a linear projection give frame ``o_t``.
The paper emits one frame per step. ``reduction_factor`` r > 1 emits r frames per step and
feeds back the last of them, as in Tacotron (Wang et al. 2017): r times fewer steps, and a
decoder that must take more from the attention context than from its previous frame.

Written for speed rather than with ``torch.nn.LSTMCell``: each LSTM is one ``Linear`` over
the concatenated inputs, the attention LSTM's PreNet part is computed for all teacher-forced
steps in one matrix product, and the projection runs once after the loop. In training, the
per-step layers go through :class:`StepLinear`, so their weight gradients are one product
over all steps instead of one per step. The ``Linear`` layers also let
:mod:`lipsound2.nets.precision` convert the whole recurrence to bfloat16 or int8 weights.

Under autocast (mixed-precision training) only the products run in fp16 or bfloat16: the LSTM
states, their gates' sums, the attention and the context are fp32 (:mod:`lipsound2.nets.autocast`),
whatever the dtype of the encoder's output, and the per-step layers' weights are cast once per
pass (:class:`StepLinear`), not once per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lipsound2 import paper
from lipsound2.nets.attention import LocationSensitiveAttention
from lipsound2.nets.autocast import state_dtype
from lipsound2.nets.prenet import Prenet
from lipsound2.nets.step_linear import StepLinear


def lstm_update(gates: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard LSTM state update from pre-activation gates ``(B, 4H)`` in i, f, g, o order,
    computed in the cell's dtype."""
    i, f, g, o = gates.to(cell.dtype).chunk(4, dim=1)
    cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(cell), cell


class AttentionDecoder(torch.nn.Module):
    def __init__(
        self,
        memory_size: int = 256,
        n_mels: int = paper.N_MELS,
        prenet_sizes: Sequence[int] = paper.DECODER["prenet_sizes"],
        prenet_dropout: float = 0.5,
        prenet_always_dropout: bool = True,
        attention_lstm_units: int = paper.DECODER["attention_lstm_units"],
        decoder_lstm_units: int = paper.DECODER["decoder_lstm_units"],
        attention_size: int = paper.DECODER["attention_size"],
        location_filters: int = paper.DECODER["location_filters"],
        location_kernel: int = paper.DECODER["location_kernel"],
        lstm_dropout: float = 0.1,
        reduction_factor: int = paper.REDUCTION_FACTOR,
    ) -> None:
        super().__init__()
        if reduction_factor < 1:
            raise ValueError(f"reduction_factor must be at least 1, got {reduction_factor}")
        self.n_mels = n_mels
        self.reduction_factor = reduction_factor
        self.att_units = attention_lstm_units
        self.dec_units = decoder_lstm_units
        self.memory_size = memory_size
        self.prenet = Prenet(n_mels, prenet_sizes, prenet_dropout, prenet_always_dropout)
        # attention LSTM: input [prenet, previous context], recurrent state h
        self.att_input = torch.nn.Linear(self.prenet.output_size, 4 * attention_lstm_units)
        self.att_recurrent = torch.nn.Linear(
            memory_size + attention_lstm_units, 4 * attention_lstm_units, bias=False
        )
        self.attention = LocationSensitiveAttention(
            attention_lstm_units, memory_size, attention_size, location_filters, location_kernel
        )
        # decoder LSTM: input [attention LSTM output, context], recurrent state h
        self.dec_lstm = torch.nn.Linear(
            attention_lstm_units + memory_size + decoder_lstm_units, 4 * decoder_lstm_units
        )
        self.projection = torch.nn.Linear(decoder_lstm_units, n_mels * reduction_factor)
        self.lstm_dropout = lstm_dropout

    def _initial_state(self, memory: torch.Tensor) -> dict[str, torch.Tensor]:
        """Zero state; fp32 (at least) under autocast, whatever the memory's dtype."""
        b, n, _ = memory.shape

        def zeros(*size: int) -> torch.Tensor:
            return memory.new_zeros(size, dtype=state_dtype(memory))

        return {
            "att_h": zeros(b, self.att_units),
            "att_c": zeros(b, self.att_units),
            "dec_h": zeros(b, self.dec_units),
            "dec_c": zeros(b, self.dec_units),
            "context": zeros(b, self.memory_size),
            "prev_w": zeros(b, n),
            "cum_w": zeros(b, n),
        }

    def _step_layers(self) -> tuple[StepLinear, StepLinear, StepLinear]:
        """The layers every step applies, for one forward pass: attention LSTM, query, decoder LSTM."""
        return StepLinear(self.att_recurrent), StepLinear(self.attention.query_fc), StepLinear(self.dec_lstm)

    def _attention_inputs(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory and its projection as each step's attention reads them: in the state's
        dtype (fp32 under autocast), converted once per pass."""
        dtype = state_dtype(memory)
        return memory.to(dtype), self.attention.process_memory(memory).to(dtype)

    def _prenet_layers(self) -> list[StepLinear]:
        """The PreNet's layers for a pass that runs it step by step (weights cast once under
        autocast; gradients as usual)."""
        return [StepLinear(layer, defer=False) for layer in self.prenet.layers]

    def _step(
        self,
        prenet_gates: torch.Tensor,
        state: dict[str, torch.Tensor],
        memory: torch.Tensor,
        processed: torch.Tensor,
        pad_mask: torch.Tensor,
        layers: tuple[StepLinear, StepLinear, StepLinear],
    ) -> torch.Tensor:
        """Advance ``state`` in place by one frame; returns the attention weights."""
        att_recurrent, query_fc, dec_lstm = layers
        dtype = state["att_c"].dtype  # the products' outputs are summed in the state's dtype
        recurrent = att_recurrent(torch.cat([state["context"], state["att_h"]], dim=1))
        gates = prenet_gates.to(dtype) + recurrent.to(dtype)
        att_h, state["att_c"] = lstm_update(gates, state["att_c"])
        att_h = torch.nn.functional.dropout(att_h, self.lstm_dropout, self.training)
        context, weights = self.attention.attend(
            query_fc(att_h), memory, processed, state["prev_w"], state["cum_w"], pad_mask
        )
        gates = dec_lstm(torch.cat([att_h, context, state["dec_h"]], dim=1))
        dec_h, state["dec_c"] = lstm_update(gates, state["dec_c"])
        state["dec_h"] = torch.nn.functional.dropout(dec_h, self.lstm_dropout, self.training)
        state["att_h"], state["context"] = att_h, context
        state["prev_w"], state["cum_w"] = weights, state["cum_w"] + weights
        return weights

    def num_steps(self, frames: torch.Tensor) -> torch.Tensor:
        """Decoder steps that produce ``frames`` output frames (elementwise)."""
        return torch.div(frames + self.reduction_factor - 1, self.reduction_factor, rounding_mode="floor")

    def _unfold(self, projected: torch.Tensor) -> torch.Tensor:
        """``(B, S, r * n_mels)`` step outputs -> ``(B, S * r, n_mels)`` frames."""
        return projected.reshape(projected.size(0), -1, self.n_mels)

    def forward(
        self,
        memory: torch.Tensor,
        pad_mask: torch.Tensor,
        targets: torch.Tensor,
        sampling_prob: float = 0.0,
        return_hidden: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Teacher-forced decoding of ``targets`` ``(B, L, n_mels)``.

        With ``sampling_prob > 0`` each utterance feeds, at each step, its own previous
        prediction instead of the ground truth with that probability (scheduled sampling,
        Bengio et al. 2015). Returns frames ``(B, L, n_mels)`` and weights ``(B, S, N)``,
        ``S = ceil(L / reduction_factor)`` steps, and with ``return_hidden`` the decoder LSTM's
        outputs ``(B, S, decoder_lstm_units)`` (what a decoder-side unit head reads).
        """
        b, length, _ = targets.shape
        r = self.reduction_factor
        steps = -(-length // r)
        # step s feeds the last frame of step s - 1 (zeros at s = 0)
        previous = torch.cat([targets.new_zeros(b, 1, self.n_mels), targets[:, r - 1 :: r]], dim=1)[:, :steps]
        state = self._initial_state(memory)
        memory, processed = self._attention_inputs(memory)
        layers = self._step_layers()
        hidden, weights = [], []
        if sampling_prob <= 0.0:
            # all steps in one product; unbound once, since indexing per step would make
            # backward zero-fill a full-size gradient at every step
            prenet_gates = self.att_input(self.prenet(previous)).unbind(1)
            for t in range(steps):
                weights.append(self._step(prenet_gates[t], state, memory, processed, pad_mask, layers))
                hidden.append(state["dec_h"])
            hidden_states = torch.stack(hidden, dim=1)
            frames = self._unfold(self.projection(hidden_states))[:, :length]
            if return_hidden:
                return frames, torch.stack(weights, dim=1), hidden_states
            return frames, torch.stack(weights, dim=1)
        att_input, projection = StepLinear(self.att_input), StepLinear(self.projection)
        prenet_layers = self._prenet_layers()
        previous = previous.unbind(1)
        outputs = []
        for t in range(steps):
            frame = previous[t]
            if t > 0:
                use_own = torch.rand(b, 1, device=targets.device) < sampling_prob
                frame = torch.where(use_own, outputs[-1][:, -self.n_mels :].detach(), frame)
            gates = att_input(self.prenet(frame, layers=prenet_layers))
            weights.append(self._step(gates, state, memory, processed, pad_mask, layers))
            outputs.append(projection(state["dec_h"]))
            hidden.append(state["dec_h"])
        frames = self._unfold(torch.stack(outputs, dim=1))[:, :length]
        if return_hidden:
            return frames, torch.stack(weights, dim=1), torch.stack(hidden, dim=1)
        return frames, torch.stack(weights, dim=1)

    @torch.no_grad()
    def generate(
        self,
        memory: torch.Tensor,
        pad_mask: torch.Tensor,
        stop_index: torch.Tensor | None,
        lengths: torch.Tensor | None,
        max_steps: int,
        generators: Sequence[torch.Generator] | None = None,
        return_hidden: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Free-running decoding of a batch.

        ``stop_index`` (visual-period mode): an utterance stops at the first step whose
        attention peaks on that encoder frame, which produces no output.
        ``lengths`` (known-length mode): an utterance stops after that many frames.
        Decoding never exceeds ``max_steps`` steps. Returns frames ``(B, L, n_mels)``, output
        lengths in frames ``(B,)`` and attention weights ``(B, S, N)``, one row per step.
        ``generators`` (one per utterance) draw the PreNet's inference dropout, which
        otherwise comes from the global generator (see :mod:`lipsound2.nets.prenet`).
        ``return_hidden``: also the decoder LSTM's outputs ``(B, S, decoder_lstm_units)``.
        """
        b, r = memory.size(0), self.reduction_factor
        state = self._initial_state(memory)
        frame = memory.new_zeros(b, self.n_mels)
        memory, processed = self._attention_inputs(memory)
        out_steps = torch.full((b,), max_steps, dtype=torch.long, device=memory.device)
        if lengths is not None:
            out_steps = self.num_steps(lengths).clamp(1, max_steps)
            max_steps = int(out_steps.max())
        done = torch.zeros(b, dtype=torch.bool, device=memory.device)
        layers = self._step_layers()
        prenet_layers = self._prenet_layers()
        att_input, projection = StepLinear(self.att_input), StepLinear(self.projection)
        outputs, weights, hidden = [], [], []
        for t in range(max_steps):
            prenet_out = self.prenet(frame, generators, layers=prenet_layers)
            w = self._step(att_input(prenet_out), state, memory, processed, pad_mask, layers)
            if stop_index is not None:
                reached = (w.argmax(dim=1) == stop_index) & ~done
                if t > 0 and bool(reached.any()):
                    out_steps = torch.where(reached, torch.full_like(out_steps, t), out_steps)
                    done |= reached
                    if bool(done.all()):
                        break
            else:
                done = out_steps <= t + 1
            output = projection(state["dec_h"])
            frame = output[:, -self.n_mels :]
            outputs.append(output)
            weights.append(w)
            hidden.append(state["dec_h"])
            if stop_index is None and bool(done.all()):
                break
        frames = self._unfold(torch.stack(outputs, dim=1))
        out_len = out_steps * r
        if lengths is not None:
            out_len = torch.minimum(out_len, lengths)
        result = (frames[:, : int(out_len.max())], out_len, torch.stack(weights, dim=1))
        return (*result, torch.stack(hidden, dim=1)) if return_hidden else result

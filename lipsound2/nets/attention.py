"""Location-sensitive attention, the paper's Eq. 1, 3 and 4 (Chorowski et al. 2015).

``a_t = softmax(W tanh(M h + Q x + L conv([a_{t-1}, sum_{i<t} a_i])))`` and
``v_t = a_t h``. ESPnet's ``AttLoc`` convolves only the previous weights, so this one is
written here.

Under autocast a step's attention (location features, energies, softmax, context) runs in
fp32, from fp32 weights and memory: only the projections of the query and of the memory
(made once per pass) use autocast's lower precision. The location layers and the context are
small products, and rounding the energies or weights at every step would accumulate in the
cumulative weights over up to 1000 steps.
"""

from __future__ import annotations

import torch

from lipsound2.nets.autocast import full_precision


class LocationSensitiveAttention(torch.nn.Module):
    def __init__(
        self,
        query_size: int = 1024,
        memory_size: int = 256,
        attention_size: int = 128,
        location_filters: int = 32,
        location_kernel: int = 31,
    ) -> None:
        super().__init__()
        self.query_fc = torch.nn.Linear(query_size, attention_size, bias=False)
        self.memory_fc = torch.nn.Linear(memory_size, attention_size)
        self.location_conv = torch.nn.Conv1d(
            2, location_filters, location_kernel, padding=location_kernel // 2, bias=False
        )
        self.location_fc = torch.nn.Linear(location_filters, attention_size, bias=False)
        self.weight_fc = torch.nn.Linear(attention_size, 1, bias=False)

    def process_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """``M h`` for the whole utterance, computed once before decoding."""
        return self.memory_fc(memory)

    def attend(
        self,
        processed_query: torch.Tensor,
        memory: torch.Tensor,
        processed_memory: torch.Tensor,
        prev_weights: torch.Tensor,
        cum_weights: torch.Tensor,
        pad_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step given the projected query ``Q x`` (``(B, A)``): context ``(B, D)`` and weights
        ``(B, N)``; ``pad_mask`` is True on padding. The query projection is left to the caller
        (the decoder runs it through ``StepLinear`` for its deferred weight gradient).
        Under autocast, everything here runs in the dtype of ``prev_weights``, ``memory`` and
        ``processed_memory`` (the decoder passes them in fp32); the query may be lower."""
        with full_precision(memory.device):
            location = self.location_conv(torch.stack([prev_weights, cum_weights], dim=1))  # (B, F, N)
            location = self.location_fc(location.transpose(1, 2))  # (B, N, A)
            query = processed_query.to(location.dtype).unsqueeze(1)
            energies = torch.tanh(processed_memory + query + location)
            energies = self.weight_fc(energies).squeeze(2).masked_fill(pad_mask, float("-inf"))
            weights = torch.softmax(energies, dim=1)
            context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
        return context, weights

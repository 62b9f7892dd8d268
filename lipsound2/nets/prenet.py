"""The decoder's PreNet: FC 512 then FC 256 (Table I), ReLU and dropout after each.

ESPnet's Tacotron 2 ``Prenet`` has one width for every layer, so this one is written here.
As in Tacotron 2 the dropout can stay on at inference (``always_dropout``): it is the
usual remedy for a free-running decoder that copies its previous frame.

That inference dropout makes decoding random. Drawn from the global generator, an
utterance's masks would depend on which utterances share its batch and in which order, so
its mel would change with the batch size and the number of jobs. Given one
``torch.Generator`` per row, :meth:`Prenet.forward` draws each row's masks from its own
generator instead: an utterance decodes the same way in any batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class Prenet(torch.nn.Module):
    def __init__(
        self,
        in_size: int = 80,
        sizes: Sequence[int] = (512, 256),
        dropout: float = 0.5,
        always_dropout: bool = True,
    ) -> None:
        super().__init__()
        layers = []
        for out_size in sizes:
            layers.append(torch.nn.Linear(in_size, out_size))
            in_size = out_size
        self.layers = torch.nn.ModuleList(layers)
        self.sizes = tuple(int(s) for s in sizes)
        self.dropout = dropout
        self.always_dropout = always_dropout
        self.output_size = in_size

    def forward(
        self,
        x: torch.Tensor,
        generators: Sequence[torch.Generator] | None = None,
        layers: Sequence[Callable[[torch.Tensor], torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """``x`` ``(..., in_size)``; with ``generators`` (``x`` ``(B, in_size)``, one CPU
        generator per row) each row's dropout masks come from its own generator. ``layers``:
        what to call in place of ``self.layers`` (the decoder's once-per-pass
        :class:`~lipsound2.nets.step_linear.StepLinear` wrappers of them)."""
        layers = self.layers if layers is None else layers
        active = self.training or self.always_dropout
        if generators is None or not active or self.dropout == 0.0:
            for layer in layers:
                x = torch.nn.functional.dropout(torch.relu(layer(x)), self.dropout, active)
            return x
        for layer, mask in zip(layers, self.row_masks(generators, x)):
            x = torch.relu(layer(x)) * mask
        return x

    def row_masks(self, generators: Sequence[torch.Generator], like: torch.Tensor) -> list[torch.Tensor]:
        """One scaled dropout mask per layer, ``(B, size)``, row ``i`` drawn from ``generators[i]``
        (what ``torch.nn.functional.dropout`` applies: kept units scaled by ``1 / (1 - p)``)."""
        if len(generators) != like.size(0):
            raise ValueError(f"{len(generators)} generators for a batch of {like.size(0)}")
        keep = 1.0 - self.dropout
        total = sum(self.sizes)
        rows = [torch.empty(total).bernoulli_(keep, generator=g) for g in generators]
        masks = torch.stack(rows).mul_(1.0 / keep if keep > 0 else 0.0)
        masks = masks.to(device=like.device, dtype=like.dtype)
        return list(masks.split(self.sizes, dim=1))

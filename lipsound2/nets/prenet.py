"""The decoder's PreNet: FC 512 then FC 256 (Table I), ReLU and dropout after each.

ESPnet's Tacotron 2 ``Prenet`` has one width for every layer, so this one is written here.
As in Tacotron 2 the dropout can stay on at inference (``always_dropout``): it is the
usual remedy for a free-running decoder that copies its previous frame.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        self.dropout = dropout
        self.always_dropout = always_dropout
        self.output_size = in_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        active = self.training or self.always_dropout
        for layer in self.layers:
            x = torch.nn.functional.dropout(torch.relu(layer(x)), self.dropout, active)
        return x

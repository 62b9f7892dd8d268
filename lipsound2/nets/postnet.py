"""The PostNet: 5 Conv1D (512, 512, 512, 512, 80; kernel 5, padding 2), Table I.

ESPnet's Tacotron 2 ``Postnet`` is exactly that (Conv1D + BatchNorm + tanh + dropout, the
last layer linear), so its layers are reused; its output is a residual added to the decoder output.
"""

from __future__ import annotations

import torch
from espnet.nets.pytorch_backend.tacotron2.decoder import Postnet as _EspnetPostnet

from lipsound2 import paper


class Postnet(torch.nn.Module):
    """``(B, L, n_mels)`` -> residual ``(B, L, n_mels)``."""

    def __init__(
        self,
        n_mels: int = paper.N_MELS,
        channels: int = paper.POSTNET["channels"],
        layers: int = paper.POSTNET["layers"],
        kernel: int = paper.POSTNET["kernel"],
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.net = _EspnetPostnet(
            n_mels,
            n_mels,
            n_layers=layers,
            n_chans=channels,
            n_filts=kernel,
            dropout_rate=dropout,
            use_batch_norm=True,
        )

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` ``(B, L)`` (True on valid frames) zeroes padding between layers, so a padded
        utterance gets exactly what it gets alone (each conv layer sees +-2 frames)."""
        x = mel.transpose(1, 2)
        keep = None if mask is None else mask.unsqueeze(1).to(x.dtype)
        for layer in self.net.postnet:
            x = layer(x if keep is None else x * keep)
        x = x if keep is None else x * keep
        return x.transpose(1, 2)

"""The visual encoder of the paper's Fig. 2 and Table I: 3D CNN blocks, then BiLSTMs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lipsound2 import paper


def _out_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def sequence_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B, max_len)`` bool mask, True on valid steps."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class ConvBlock3d(torch.nn.Module):
    """Conv3D + BatchNorm + ReLU + MaxPool3D + Dropout; time stride is always 1.

    Computed as pool then ReLU (the same values and gradients: ReLU is monotonic, so it
    commutes with a max), which runs the ReLU on a quarter of the elements; in eval mode the
    BatchNorm is folded into the convolution, saving two full passes over the largest tensor.
    Without autograd (inference, validation), a purely spatial pool whose kernel equals its
    stride is taken as the elementwise maximum of strided slices: the same values, and on a
    CPU several times faster than ``MaxPool3d``, which otherwise costs more than the first
    block's convolution. Training keeps ``MaxPool3d``: backward through the strided views
    zero-fills a full-size gradient per view and made an encoder step 2.7x slower.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        pool: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(in_channels, out_channels, tuple(kernel), tuple(stride), tuple(padding))
        self.norm = torch.nn.BatchNorm3d(out_channels)
        self.pool = torch.nn.MaxPool3d(tuple(pool), tuple(pool))
        self.dropout = torch.nn.Dropout(dropout)
        self.slice_pool = pool[0] == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.norm.track_running_stats:
            x = self.norm(self.conv(x))
        else:
            x = self.conv._conv_forward(x, *self._folded_norm())
        fast = self.slice_pool and not (torch.is_grad_enabled() and x.requires_grad)
        return self.dropout(torch.relu(self._spatial_max(x) if fast else self.pool(x)))

    def _spatial_max(self, x: torch.Tensor) -> torch.Tensor:
        """``self.pool(x)`` for a pool of 1 frame: the maximum over the kh x kw strided views."""
        _, kh, kw = self.pool.kernel_size
        h, w = x.size(3) // kh * kh, x.size(4) // kw * kw
        out = x[:, :, :, 0:h:kh, 0:w:kw]
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    out = torch.maximum(out, x[:, :, :, i:h:kh, j:w:kw])
        return out

    def _folded_norm(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Convolution weight and bias with the eval-mode BatchNorm's affine map folded in."""
        norm = self.norm
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.affine:
            scale = scale * norm.weight
        bias = self.conv.bias if self.conv.bias is not None else torch.zeros_like(scale)
        bias = (bias - norm.running_mean) * scale
        if norm.affine:
            bias = bias + norm.bias
        return self.conv.weight * scale.view(-1, 1, 1, 1, 1), bias


class VisualEncoder(torch.nn.Module):
    """Face frames ``(B, T, H, W, C)`` scaled to [-1, 1] -> ``(B, T, 2 * lstm_units)``.

    Padded frames are zeroed after every block so that a padded utterance encodes exactly
    like the same utterance alone (the convolutions' own time padding is zero too).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = paper.IMAGE_SIZE,
        channels: Sequence[int] = paper.ENCODER["channels"],
        kernel: Sequence[int] = paper.ENCODER["kernel"],
        strides: Sequence[Sequence[int]] = paper.ENCODER["strides"],
        padding: Sequence[int] = paper.ENCODER["padding"],
        pool: Sequence[int] = paper.ENCODER["pool"],
        dropout: float = 0.2,
        lstm_units: int = paper.ENCODER["lstm_units"],
        lstm_layers: int = paper.ENCODER["lstm_layers"],
    ) -> None:
        super().__init__()
        if kernel[0] % 2 != 1 or padding[0] != kernel[0] // 2:
            raise ValueError("the time kernel must be odd with 'same' padding to keep the frame rate")
        blocks = []
        size = image_size
        in_ch = in_channels
        for out_ch, stride in zip(channels, strides):
            blocks.append(ConvBlock3d(in_ch, out_ch, kernel, stride, padding, pool, dropout))
            size = _out_size(size, kernel[1], stride[1], padding[1])
            size = _out_size(size, pool[1], pool[1])
            if size < 1:
                raise ValueError(f"image_size {image_size} is too small for the encoder's strides")
            in_ch = out_ch
        self.blocks = torch.nn.ModuleList(blocks)
        self.feature_size = in_ch * size * size
        self.lstm = torch.nn.LSTM(
            self.feature_size, lstm_units, num_layers=lstm_layers, batch_first=True, bidirectional=True
        )
        self.output_size = 2 * lstm_units

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = sequence_mask(lengths, frames.size(1)).to(frames.dtype)
        x = frames.permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
        x = x * mask[:, None, :, None, None]
        for block in self.blocks:
            x = block(x) * mask[:, None, :, None, None]
        x = x.permute(0, 2, 1, 3, 4).flatten(2)  # (B, T, C * H' * W')
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=frames.size(1))
        return out

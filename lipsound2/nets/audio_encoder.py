"""The audio encoder of audio-only pre-training: log-mel in, frames at the video encoder's rate
and size out, through a narrow bottleneck, so that the LipSound2 decoder behind it learns to
speak from something as coarse as what the video encoder gives it (docs/audio_pretraining.md).

What stops the decoder from just copying its input through the attention:

- **rate**: ``p`` mel frames become ``q`` encoder frames, ``p / q = mel_per_video_frame``
  (5 -> 2 at 62.5 mel frames and 25 video frames per second);
- **bottleneck**: each encoder frame is an affine image of a ``bottleneck``-wide tanh code
  (e.g. 8 numbers for the 200 mel values of its 2.5 frames), so all the memory the decoder
  attends spans at most ``bottleneck + 1`` dimensions;
- **corruption** in training only: ESPnet's SpecAugment time and frequency masks
  (``specaug_conf``) and Gaussian noise (``noise_std``, in the units of the normalised mel).
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from espnet2.asr.specaug.specaug import SpecAug
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lipsound2.nets.encoder import sequence_mask


def rate_ratio(mel_per_video_frame: float) -> tuple[int, int]:
    """``(p, q)``: ``p`` mel frames per ``q`` video frames, exactly ``mel_per_video_frame``."""
    ratio = Fraction(mel_per_video_frame).limit_denominator(32)
    if not math.isclose(float(ratio), mel_per_video_frame, rel_tol=1e-9):
        raise ValueError(
            f"mel_per_video_frame {mel_per_video_frame:g} is not a ratio of small whole numbers "
            "(mel frames per second / video fps); the audio encoder cannot match the video rate"
        )
    return ratio.numerator, ratio.denominator


class AudioEncoder(torch.nn.Module):
    """Log-mel ``(B, L, n_mels)`` -> ``(B, N, output_size)`` with ``N = ceil(L q / p)``.

    Args:
        n_mels: mel bands of the input.
        mel_per_video_frame: mel frames per video frame (2.5); sets the output rate.
        output_size: the video encoder's output size (2 x its ``lstm_units``), which is the
            decoder's memory size; the audio task takes it from the LipSound2 config.
        conv_channels, conv_layers, conv_kernel: Conv1D + BatchNorm + ReLU layers at the mel rate.
        lstm_units: BiLSTM units per direction at the video rate.
        bottleneck: width of the code each output frame is made from.
        dropout: dropout after the convolutions and on the code.
        specaug_conf: keyword arguments of ESPnet's ``SpecAug`` (time warping off unless
            given); None: no masks.
        noise_std: standard deviation of the Gaussian noise added to the input in training.
    """

    def __init__(
        self,
        n_mels: int = 80,
        mel_per_video_frame: float = 2.5,
        output_size: int = 256,
        conv_channels: int = 256,
        conv_layers: int = 2,
        conv_kernel: int = 5,
        lstm_units: int = 128,
        bottleneck: int = 16,
        dropout: float = 0.1,
        specaug_conf: dict | None = None,
        noise_std: float = 0.0,
    ) -> None:
        super().__init__()
        if conv_kernel % 2 != 1:
            raise ValueError(f"conv_kernel must be odd, got {conv_kernel}")
        if bottleneck < 1 or bottleneck >= output_size:
            raise ValueError(
                f"bottleneck must be between 1 and output_size - 1 ({output_size - 1}), got {bottleneck}"
            )
        self.per_group, self.out_per_group = rate_ratio(mel_per_video_frame)
        self.specaug = None
        if specaug_conf is not None:
            self.specaug = SpecAug(**{"apply_time_warp": False, **specaug_conf})
        self.noise_std = noise_std
        layers, in_ch = [], n_mels
        for _ in range(conv_layers):
            layers.append(
                torch.nn.ModuleDict(
                    dict(
                        conv=torch.nn.Conv1d(in_ch, conv_channels, conv_kernel, padding=conv_kernel // 2),
                        norm=torch.nn.BatchNorm1d(conv_channels),
                    )
                )
            )
            in_ch = conv_channels
        self.convs = torch.nn.ModuleList(layers)
        self.dropout = torch.nn.Dropout(dropout)
        # p frames of the mel rate -> q frames of the video rate
        self.regroup = torch.nn.Linear(self.per_group * in_ch, self.out_per_group * 2 * lstm_units)
        self.lstm = torch.nn.LSTM(2 * lstm_units, lstm_units, batch_first=True, bidirectional=True)
        self.to_code = torch.nn.Linear(2 * lstm_units, bottleneck)
        self.from_code = torch.nn.Linear(bottleneck, output_size)
        self.bottleneck = bottleneck
        self.output_size = output_size

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Encoder frames for ``lengths`` mel frames: ``ceil(L q / p)``."""
        return torch.div(
            lengths * self.out_per_group + self.per_group - 1, self.per_group, rounding_mode="floor"
        )

    def corrupt(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The training input: masked and noisy (the masks and noise are drawn per call)."""
        if self.specaug is not None:
            feats, _ = self.specaug(feats, lengths)
        if self.noise_std > 0:
            feats = feats + self.noise_std * torch.randn_like(feats)
        return feats

    def code(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The bottleneck codes ``(B, N, bottleneck)`` (zero on padding) and their lengths."""
        if self.training:
            feats = self.corrupt(feats, lengths)
        mask = sequence_mask(lengths, feats.size(1)).unsqueeze(1).to(feats.dtype)  # (B, 1, L)
        x = feats.transpose(1, 2) * mask
        for layer in self.convs:
            x = self.dropout(torch.relu(layer["norm"](layer["conv"](x)))) * mask
        b, c, length = x.shape
        groups = -(-length // self.per_group)
        x = torch.nn.functional.pad(x, (0, groups * self.per_group - length))
        x = x.transpose(1, 2).reshape(b, groups, self.per_group * c)
        x = torch.relu(self.regroup(x)).reshape(b, groups * self.out_per_group, -1)
        out_lengths = self.output_lengths(lengths)
        x = x[:, : int(out_lengths.max())]
        packed = pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
        x, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.size(1))
        out_mask = sequence_mask(out_lengths, x.size(1)).unsqueeze(2).to(x.dtype)
        return self.dropout(torch.tanh(self.to_code(x))) * out_mask, out_lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code, out_lengths = self.code(feats, lengths)
        mask = sequence_mask(out_lengths, code.size(1)).unsqueeze(2).to(code.dtype)
        return self.from_code(code) * mask, out_lengths

"""Speech units as a second target (the speech-units paper: Choi, Kim and Ro, Interspeech 2023).

A linear layer gives logits over ``num_units`` units for every mel frame, from one of two places:

- ``decoder``: the decoder LSTM's output of each step, ``reduction_factor`` frames per step
  (one linear layer of ``reduction_factor * num_units`` outputs), so the units follow the
  attention exactly as the mel does;
- ``encoder``: each encoder (video) frame, repeated for the mel frames it spans (2.5 at 25 fps
  and a 16 ms hop), so the units do not depend on the attention, but the 2-3 mel frames of one
  video frame get the same logits.

The loss is cross-entropy with label smoothing over the valid frames only.
"""

from __future__ import annotations

import torch

UNIT_HEAD_SIDES = ("decoder", "encoder")


def video_frame_index(
    num_frames: int, mel_per_video_frame: float, video_lengths: torch.Tensor
) -> torch.Tensor:
    """``(B, num_frames)``: the video frame each mel frame lies in, at most each utterance's last."""
    t = torch.arange(num_frames, device=video_lengths.device, dtype=torch.float32)
    index = (t / mel_per_video_frame).long()
    return torch.minimum(index[None, :], (video_lengths - 1)[:, None])


class UnitHead(torch.nn.Module):
    """Unit logits ``(B, frames, num_units)`` per mel frame from decoder steps or encoder frames."""

    def __init__(
        self, side: str, in_size: int, num_units: int, reduction_factor: int, mel_per_video_frame: float
    ) -> None:
        super().__init__()
        if side not in UNIT_HEAD_SIDES:
            raise ValueError(f"unit_head_side must be one of {UNIT_HEAD_SIDES}, got {side!r}")
        if num_units < 2:
            raise ValueError(
                f"num_units must be at least 2 with a unit head (unit_weight > 0), got {num_units}"
            )
        self.side = side
        self.num_units = num_units
        self.mel_per_video_frame = mel_per_video_frame
        per_input = reduction_factor if side == "decoder" else 1
        self.linear = torch.nn.Linear(in_size, per_input * num_units)

    def forward(
        self, hidden: torch.Tensor, num_frames: int, video_lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``hidden``: decoder outputs ``(B, steps, H)`` or encoder frames ``(B, N, D)`` (then
        ``video_lengths``, the real frames without the visual period, is needed)."""
        logits = self.linear(hidden)
        if self.side == "decoder":
            return logits.reshape(logits.size(0), -1, self.num_units)[:, :num_frames]
        if video_lengths is None:
            raise ValueError("an encoder-side unit head needs the video lengths")
        index = video_frame_index(num_frames, self.mel_per_video_frame, video_lengths)
        return torch.gather(logits, 1, index.unsqueeze(2).expand(-1, -1, self.num_units))


def unit_loss(
    logits: torch.Tensor, units: torch.Tensor, mask: torch.Tensor, label_smoothing: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label-smoothed cross-entropy and accuracy over the frames where ``mask`` ``(B, L)`` is true."""
    valid_logits, valid_units = logits[mask], units[mask]
    loss = torch.nn.functional.cross_entropy(valid_logits, valid_units, label_smoothing=label_smoothing)
    accuracy = (valid_logits.argmax(dim=1) == valid_units).float().mean()
    return loss, accuracy

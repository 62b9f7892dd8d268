"""Small LipSound2 networks, batches and a step-by-step reference decoder for the network tests."""

from __future__ import annotations

import torch

# A tiny network with every part (no PreNet dropout at inference, smaller LSTMs than
# lipsound2.nets.tiny): forward passes in milliseconds
TINY = {
    "encoder_conf": {"channels": [4, 8, 8], "dropout": 0.0, "lstm_units": 16},
    "decoder_conf": {
        "prenet_sizes": [32, 16],
        "prenet_always_dropout": False,
        "attention_lstm_units": 32,
        "decoder_lstm_units": 32,
        "attention_size": 16,
        "location_filters": 4,
        "location_kernel": 5,
    },
    "postnet_conf": {"channels": 16},
}


def batch(lengths: list[int], mel_lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A padded batch of random video (uint8 levels as float) and mel, zero past each length."""
    g = torch.Generator().manual_seed(seed)
    video = torch.randint(0, 256, (len(lengths), max(lengths), 112, 112), generator=g).float()
    feats = torch.randn(len(lengths), max(mel_lengths), 80, generator=g) - 5
    for i, (n, m) in enumerate(zip(lengths, mel_lengths)):
        video[i, n:] = 0
        feats[i, m:] = 0
    return video, torch.tensor(lengths), feats, torch.tensor(mel_lengths)


# Decoder sizes small enough for step-by-step references, large enough to show their errors
SIZES = {
    "prenet_sizes": (48, 24),
    "prenet_dropout": 0.0,
    "attention_lstm_units": 64,
    "decoder_lstm_units": 48,
    "attention_size": 16,
    "location_filters": 4,
    "location_kernel": 7,
    "lstm_dropout": 0.0,
}


def _lstm(gates: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    i, f, g, o = gates.chunk(4, dim=1)
    cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(cell), cell


def reference_decode(
    dec: torch.nn.Module,
    memory: torch.Tensor,
    pad_mask: torch.Tensor,
    targets: torch.Tensor | None = None,
    steps: int | None = None,
    stop_index: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced over ``targets``, or free-running for ``steps`` steps (frames, weights)."""
    b, n, _ = memory.shape
    att = dec.attention
    att_h, att_c = memory.new_zeros(b, dec.att_units), memory.new_zeros(b, dec.att_units)
    dec_h, dec_c = memory.new_zeros(b, dec.dec_units), memory.new_zeros(b, dec.dec_units)
    context = memory.new_zeros(b, memory.size(2))
    prev_w, cum_w = memory.new_zeros(b, n), memory.new_zeros(b, n)
    frame = memory.new_zeros(b, dec.n_mels)
    frames, weights = [], []
    for t in range(targets.size(1) if targets is not None else steps):
        if targets is not None and t > 0:
            frame = targets[:, t - 1]
        x = dec.prenet(frame)
        att_h, att_c = _lstm(dec.att_input(x) + dec.att_recurrent(torch.cat([context, att_h], 1)), att_c)
        location = att.location_fc(att.location_conv(torch.stack([prev_w, cum_w], 1)).transpose(1, 2))
        energies = torch.tanh(att.memory_fc(memory) + att.query_fc(att_h)[:, None] + location)
        w = torch.softmax(att.weight_fc(energies).squeeze(2).masked_fill(pad_mask, float("-inf")), dim=1)
        context = torch.bmm(w[:, None], memory)[:, 0]
        dec_h, dec_c = _lstm(dec.dec_lstm(torch.cat([att_h, context, dec_h], 1)), dec_c)
        prev_w, cum_w = w, cum_w + w
        frame = dec.projection(dec_h)
        frames.append(frame)
        weights.append(w)
    return torch.stack(frames, 1), torch.stack(weights, 1)

"""Audio-only pre-training of the LipSound2 decoder (Kefalas, Panagakis and Pantic, TASLP 2024):
an audio encoder (:class:`~lipsound2.nets.audio_encoder.AudioEncoder`) in front of LipSound2's
own attention decoder and PostNet, trained to rebuild the log-mel from a corrupted,
bottlenecked view of it. The decoder side has LipSound2's classes and parameter names
(:data:`~lipsound2.nets.lipsound2.DECODER_SIDE`), so stage 4 takes it by key with
``--init_param``; the audio encoder stays behind.
"""

from __future__ import annotations

import torch
from espnet2.layers.abs_normalize import AbsNormalize

from lipsound2.nets.audio_encoder import AudioEncoder
from lipsound2.nets.encoder import sequence_mask
from lipsound2.nets.lipsound2 import LipSound2


class AudioPretrainModel(LipSound2):
    """Log-mel -> audio encoder (25 Hz, the video encoder's size) -> LipSound2 decoder -> log-mel.

    The loss and training options are LipSound2's (Eq. 5 loss, scheduled sampling, guided
    attention, encoder read-out); the output length is the input's (``known_length``).
    ``decoder_conf`` and ``postnet_conf`` must be those of the LipSound2 model that will take
    the decoder, and ``encoder_conf["output_size"]`` its video encoder's output size: the audio
    task fills them in from that model's config (``--lipsound2_config``).
    """

    def __init__(
        self,
        n_mels: int = 80,
        encoder_conf: dict | None = None,
        decoder_conf: dict | None = None,
        postnet_conf: dict | None = None,
        mel_per_video_frame: float = 2.5,
        ss_max_prob: float = 0.0,
        ss_start_step: int = 0,
        ss_end_step: int = 1,
        guided_attention_weight: float = 0.0,
        guided_attention_sigma: float = 0.4,
        encoder_mel_weight: float = 0.0,
        normalize: AbsNormalize | None = None,
    ) -> None:
        super().__init__(
            n_mels=n_mels,
            encoder_conf=encoder_conf,
            decoder_conf=decoder_conf,
            postnet_conf=postnet_conf,
            stop_mode="known_length",
            mel_per_video_frame=mel_per_video_frame,
            ss_max_prob=ss_max_prob,
            ss_start_step=ss_start_step,
            ss_end_step=ss_end_step,
            guided_attention_weight=guided_attention_weight,
            guided_attention_sigma=guided_attention_sigma,
            encoder_mel_weight=encoder_mel_weight,
            normalize=normalize,
        )

    def _build_encoder(self, conf: dict) -> torch.nn.Module:
        return AudioEncoder(self.n_mels, self.mel_per_video_frame, **conf)

    def forward(
        self, feats: torch.Tensor, feats_lengths: torch.Tensor, **kwargs
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        feats = self._targets(feats, feats_lengths)
        memory, in_lengths = self.encoder(feats, feats_lengths)  # corrupted in training
        return self._reconstruct(memory, in_lengths, in_lengths, feats, feats_lengths, kwargs)

    def encode(self, feats: torch.Tensor, feats_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory of raw log-mel (normalised here when the model normalises): what
        :meth:`generate`, inherited, decodes free-running (``generate(feats, feats_lengths)``)."""
        if self.normalize is not None:
            feats, _ = self.normalize(feats.clone(), feats_lengths)  # GlobalMVN works in place
        return self.encoder(feats, feats_lengths)

    def known_lengths(self, feats_lengths: torch.Tensor) -> torch.Tensor:
        """The output is as long as the input."""
        return feats_lengths

    def collect_feats(self, feats, feats_lengths, **kwargs) -> dict[str, torch.Tensor]:
        return {"feats": feats, "feats_lengths": feats_lengths}

    @torch.no_grad()
    def reliance(self, feats: torch.Tensor, feats_lengths: torch.Tensor) -> dict[str, float]:
        """Teacher-forced decoder MSE (normalised mel, eval mode: no corruption) of one batch
        three ways: as trained (``full``); with the decoder's history, its previous frames,
        replaced by zeros (``no_history``); with the encoder's memory replaced by zeros
        (``no_memory``). A model that copied its input through the memory would lose nothing
        without its history; one that ignored the audio would lose nothing without the memory.
        ``free_running`` is the PostNet output's MSE when the decoder is fed its own frames
        (:meth:`generate`). ``frame_variance`` is the MSE of predicting each band's mean over
        the batch."""
        if self.training:
            raise RuntimeError("reliance() measures the model in eval mode; call .eval() first")
        raw = feats
        feats = self._targets(feats.clone(), feats_lengths)  # GlobalMVN works in place
        memory, in_lengths = self.encoder(feats, feats_lengths)
        mask = sequence_mask(in_lengths, memory.size(1))
        weight = sequence_mask(feats_lengths, feats.size(1)).unsqueeze(2).to(feats.dtype)
        n = (weight.sum() * feats.size(2)).clamp_min(1.0)

        def mse(pred: torch.Tensor, target: torch.Tensor) -> float:
            return float((((pred - target) ** 2) * weight).sum() / n)

        def decode(mem: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
            return self.decoder(mem, ~mask, history)[0] * weight

        # the decoder is fed its history from the frames it is given (zeros: none); every
        # loss is taken against the real mel
        full = decode(memory, feats)
        no_history = decode(memory, torch.zeros_like(feats))
        no_memory = decode(torch.zeros_like(memory), feats)
        mean = (feats * weight).sum(dim=(0, 1)) / weight.sum(dim=(0, 1)).clamp_min(1.0)
        generated = self.generate(raw, feats_lengths)["mel"][:, : feats.size(1)]
        if self.normalize is not None:
            generated, _ = self.normalize(generated.clone(), feats_lengths)
        return {
            "full": mse(full, feats),
            "no_history": mse(no_history, feats),
            "no_memory": mse(no_memory, feats),
            "free_running": mse(generated, feats),
            "frame_variance": mse(mean.expand_as(feats), feats),
        }

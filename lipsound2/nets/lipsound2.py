"""The LipSound2 model (paper section III, Fig. 2): face frames -> log-mel spectrogram.

It is an ESPnet ``AbsESPnetModel``: ``forward`` returns the training loss, the statistics
the trainer logs and the batch weight, as 1-dim tensors on the loss's device (what ESPnet's
multi-GPU and distributed averaging and DataParallel's gather take); ``generate`` decodes
free-running.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from espnet.nets.pytorch_backend.e2e_tts_tacotron2 import GuidedAttentionLoss
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from lipsound2 import paper
from lipsound2.nets.alignment import diagonal_share
from lipsound2.nets.decoder import AttentionDecoder
from lipsound2.nets.encoder import VisualEncoder, sequence_mask
from lipsound2.nets.postnet import Postnet
from lipsound2.nets.unit_head import UnitHead, unit_loss, video_frame_index

STOP_MODES = ("visual_period", "known_length")
# The decoder side: what audio pre-training trains and stage 4 can take from it, and what
# freeze_decoder_updates freezes (module names, the prefixes of their state-dict keys).
DECODER_SIDE = ("decoder", "postnet")
PERIOD_VALUE = paper.VISUAL_PERIOD_VALUE  # the 'visual period': one frame of it after the last frame


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid frames only (``mask`` is ``(B, L)``)."""
    weight = mask.unsqueeze(2).to(pred.dtype)
    return ((pred - target) ** 2 * weight).sum() / (weight.sum() * pred.size(2)).clamp_min(1.0)


class LipSound2(AbsESPnetModel):
    """Encoder, location-sensitive attention decoder and PostNet with the loss of Eq. 5.

    Args:
        n_mels: mel bands of the target (in a recipe: the front end's ``mel.n_mels``).
        in_channels: 1 (gray faces) or 3 (RGB).
        image_size: side of the square face crop.
        encoder_conf, decoder_conf, postnet_conf: keyword arguments of
            :class:`VisualEncoder`, :class:`AttentionDecoder`, :class:`Postnet`.
        stop_mode: ``visual_period`` (append one all-255 frame; stop when the attention
            reaches it) or ``known_length`` (``mel_per_video_frame`` frames per video frame).
        mel_per_video_frame: 2.5 for 25 fps video and a 16 ms hop (in a recipe: from the front
            end's settings, see :meth:`check_features`).
        max_decode_steps: cap on free-running steps (the paper: 1000).
        ss_max_prob, ss_start_step, ss_end_step: scheduled sampling; the probability of
            feeding the model's own previous frame rises linearly from 0 at ``ss_start_step``
            to ``ss_max_prob`` at ``ss_end_step``, counted in optimiser updates (the
            ``num_updates`` buffer, advanced by the hook :meth:`count_updates` registers).
        guided_attention_weight, guided_attention_sigma: optional diagonal attention loss
            (Tachibana et al. 2018); 0 disables it. ESPnet's loss averages over every
            (output step, video frame) cell, so a weight near the number of video frames
            makes it a per-step penalty of about one for attention off the diagonal.
        encoder_mel_weight: optional loss on a linear read-out of each encoder frame against
            the mel frames it spans. It gives the encoder a direct gradient from the start,
            instead of only through an attention that has not aligned yet; 0 disables it.
        unit_weight: weight of the speech-unit loss (label-smoothed cross-entropy of a unit head,
            :mod:`lipsound2.nets.unit_head`) beside the mel loss; 0 (the default) builds no head,
            and the model and its loss are those without units. Training then needs the
            ``units`` data input (``dump/<set>/units.scp``, one unit per mel frame).
        num_units: k, the number of units (the k-means clusters of the data's ``units.yaml``).
        unit_head_side: ``encoder`` (from each video frame, the paper's choice) or ``decoder``
            (from each decoder step); see :mod:`lipsound2.nets.unit_head`.
        unit_label_smoothing: the cross-entropy's label smoothing (the paper's code: 0.1).
        freeze_decoder_updates: the decoder side (:data:`DECODER_SIDE`: attention, both LSTMs,
            PreNet, projection, PostNet) gets no gradient and keeps its BatchNorm statistics
            until the update count (``num_updates``) reaches this; 0 freezes nothing. For a
            decoder taken from an audio pre-trained model, so that a fresh encoder cannot
            disturb it before it gives the decoder something to attend. Refused under
            DataParallel (:meth:`data_parallel_refusal`): train on several GPUs with DDP.
        normalize: optional feature normalisation (ESPnet's ``GlobalMVN``). The network then
            learns normalised mel frames and :meth:`generate` returns them de-normalised.
    """

    def __init__(
        self,
        n_mels: int = paper.N_MELS,
        in_channels: int = 1,
        image_size: int = paper.IMAGE_SIZE,
        encoder_conf: dict | None = None,
        decoder_conf: dict | None = None,
        postnet_conf: dict | None = None,
        stop_mode: str = paper.STOP_MODE,
        mel_per_video_frame: float = paper.MEL_PER_VIDEO_FRAME,
        max_decode_steps: int = paper.MAX_DECODE_STEPS,
        ss_max_prob: float = 0.0,
        ss_start_step: int = 0,
        ss_end_step: int = 1,
        guided_attention_weight: float = 0.0,
        guided_attention_sigma: float = 0.4,
        encoder_mel_weight: float = 0.0,
        unit_weight: float = 0.0,
        num_units: int = 0,
        unit_head_side: str = "encoder",
        unit_label_smoothing: float = 0.1,
        freeze_decoder_updates: int = 0,
        normalize: AbsNormalize | None = None,
    ) -> None:
        super().__init__()
        self.normalize = normalize
        if stop_mode not in STOP_MODES:
            raise ValueError(f"stop_mode must be one of {STOP_MODES}, got {stop_mode!r}")
        self.n_mels = n_mels
        self.in_channels = in_channels
        self.image_size = image_size
        self.stop_mode = stop_mode
        self.mel_per_video_frame = mel_per_video_frame
        self.max_decode_steps = max_decode_steps
        self.ss_max_prob = ss_max_prob
        self.ss_start_step = ss_start_step
        self.ss_end_step = max(ss_end_step, ss_start_step + 1)
        self.encoder = self._build_encoder(encoder_conf or {})
        self.decoder = AttentionDecoder(self.encoder.output_size, n_mels, **(decoder_conf or {}))
        self.postnet = Postnet(n_mels, **(postnet_conf or {}))
        self.guided_attention_weight = guided_attention_weight
        self.guided_attention = GuidedAttentionLoss(sigma=guided_attention_sigma, alpha=1.0)
        self.encoder_mel_weight = encoder_mel_weight
        if encoder_mel_weight > 0:
            self.encoder_mel = torch.nn.Linear(self.encoder.output_size, n_mels)
        self.unit_weight = unit_weight
        self.num_units = num_units
        self.unit_label_smoothing = unit_label_smoothing
        self.unit_head: UnitHead | None = None
        if unit_weight > 0:
            in_size = self.decoder.dec_units if unit_head_side == "decoder" else self.encoder.output_size
            self.unit_head = UnitHead(
                unit_head_side, in_size, num_units, self.decoder.reduction_factor, mel_per_video_frame
            )
        if freeze_decoder_updates < 0:
            raise ValueError(f"freeze_decoder_updates must be >= 0, got {freeze_decoder_updates}")
        self.freeze_decoder_updates = freeze_decoder_updates
        # optimiser updates so far: drives scheduled sampling, saved with the model
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self._initialize()

    def _build_encoder(self, conf: dict) -> torch.nn.Module:
        """The encoder whose frames the decoder attends (video here; audio in pre-training)."""
        return VisualEncoder(self.in_channels, self.image_size, **conf)

    def data_parallel_refusal(self) -> str:
        """Why ``freeze_decoder_updates`` cannot run under ``torch.nn.DataParallel`` (what ESPnet's
        trainer uses for ``--ngpu`` > 1 in one process) and what to do instead."""
        return (
            f"model_conf freeze_decoder_updates={self.freeze_decoder_updates} does not work under "
            "DataParallel (--ngpu > 1 in one process, without distributed training): its replicas "
            "hold no parameters, so the freeze would be applied to copies and the decoder would train "
            "from the first update. Train with DistributedDataParallel instead (ESPnet's "
            "--multiprocessing_distributed true, as egs/TEMPLATE/lipsound2.sh passes), or set "
            "freeze_decoder_updates to 0"
        )

    def decoder_frozen(self) -> bool:
        """Whether the decoder side is frozen now (fewer updates than ``freeze_decoder_updates``)."""
        return int(self.num_updates) < self.freeze_decoder_updates

    def _apply_freeze(self) -> None:
        """Freeze or release the decoder side for this step. Frozen parameters take no
        gradient, so the optimiser skips them (Adam's weight decay and moments too); the
        encoder still gets its gradient through them. Frozen BatchNorm keeps its statistics."""
        if self.freeze_decoder_updates == 0:
            return
        if getattr(self, "_is_replica", False):  # set by DataParallel's replicate
            raise RuntimeError(self.data_parallel_refusal())
        frozen = self.decoder_frozen()
        for name in DECODER_SIDE:
            module = getattr(self, name)
            for param in module.parameters():
                param.requires_grad_(not frozen)
            for sub in module.modules():
                if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
                    sub.train(self.training and not frozen)

    def _initialize(self) -> None:
        """Xavier for linear layers, Xavier with the tanh gain for convolutions (IV-C-3)."""
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, (torch.nn.Conv1d, torch.nn.Conv3d)):
                torch.nn.init.xavier_uniform_(module.weight, gain=torch.nn.init.calculate_gain("tanh"))
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)

    def check_features(self, n_mels: int, mel_per_video_frame: float, source: str) -> None:
        """Raise ``ValueError`` unless the features described by ``source`` (a front-end
        config) have this model's mel bands and mel frames per video frame."""
        problems = []
        if n_mels != self.n_mels:
            problems.append(f"n_mels {self.n_mels} in the model, {n_mels} in {source}")
        if not math.isclose(mel_per_video_frame, self.mel_per_video_frame, rel_tol=1e-6):
            problems.append(
                f"mel_per_video_frame {self.mel_per_video_frame:g} in the model, {mel_per_video_frame:g} "
                f"in {source} (mel frames per second / video fps)"
            )
        if problems:
            raise ValueError("the model does not match its features: " + "; ".join(problems))

    def count_updates(self, optimizer: torch.optim.Optimizer) -> None:
        """Advance the scheduled-sampling count after every step ``optimizer`` takes.

        Counting steps rather than forward passes keeps the schedule in updates under gradient
        accumulation, skips the steps a trainer drops (non-finite gradients, AMP overflow) and
        counts on the module DataParallel replicates from, whose buffers its replicas only copy.
        """
        optimizer.register_step_post_hook(self._count_update)

    def _count_update(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        self.num_updates += 1

    def sampling_prob(self) -> float:
        progress = (int(self.num_updates) - self.ss_start_step) / (self.ss_end_step - self.ss_start_step)
        return self.ss_max_prob * min(max(progress, 0.0), 1.0)

    def _frames(self, video: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel values ``(B, T, H, W[, C])`` -> [-1, 1] frames, with the visual period if used."""
        if video.dim() == 4:
            video = video.unsqueeze(-1)
        video = video.to(torch.float32)
        if self.stop_mode == "visual_period":
            video = torch.cat([video, video.new_zeros(video[:, :1].shape)], dim=1)
            video[torch.arange(video.size(0), device=video.device), lengths] = PERIOD_VALUE
            lengths = lengths + 1
        return video / 127.5 - 1.0, lengths

    def encode(self, video: torch.Tensor, video_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames, lengths = self._frames(video, video_lengths)
        return self.encoder(frames, lengths), lengths

    def forward(
        self,
        video: torch.Tensor,
        video_lengths: torch.Tensor,
        feats: torch.Tensor,
        feats_lengths: torch.Tensor,
        **kwargs,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        feats = self._targets(feats, feats_lengths)
        memory, in_lengths = self.encode(video, video_lengths)
        return self._reconstruct(memory, in_lengths, video_lengths, feats, feats_lengths, kwargs)

    def _targets(self, feats: torch.Tensor, feats_lengths: torch.Tensor) -> torch.Tensor:
        """The batch's mel, checked, trimmed and normalised; also starts the step (freezing)."""
        self._apply_freeze()
        if feats.size(-1) != self.n_mels:
            self.check_features(feats.size(-1), self.mel_per_video_frame, "the training features")
        feats = feats[:, : int(feats_lengths.max())]
        if self.normalize is not None:
            feats, _ = self.normalize(feats, feats_lengths)
        return feats

    def _reconstruct(
        self,
        memory: torch.Tensor,
        in_lengths: torch.Tensor,
        frame_lengths: torch.Tensor,
        feats: torch.Tensor,
        feats_lengths: torch.Tensor,
        kwargs: dict,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """Decode ``feats`` teacher-forced from ``memory`` (``in_lengths`` frames, of which
        ``frame_lengths`` are real: no visual period) and return the trainer's triple."""
        pad_mask = ~sequence_mask(in_lengths, memory.size(1))
        prob = self.sampling_prob() if self.training else 0.0
        dec_out, att_ws, dec_hidden = self.decoder(memory, pad_mask, feats, prob, return_hidden=True)
        out_mask = sequence_mask(feats_lengths, feats.size(1))
        dec_out = dec_out * out_mask.unsqueeze(2)
        post_out = dec_out + self.postnet(dec_out, out_mask)
        dec_loss = masked_mse(dec_out, feats, out_mask)
        post_loss = masked_mse(post_out, feats, out_mask)
        loss = dec_loss + post_loss
        stats = {"dec_loss": dec_loss.detach(), "post_loss": post_loss.detach()}
        att_lengths = self.decoder.num_steps(feats_lengths)
        if self.guided_attention_weight > 0:
            attn_loss = self.guided_attention(att_ws, in_lengths, att_lengths)
            loss = loss + self.guided_attention_weight * attn_loss
            stats["guided_attn_loss"] = attn_loss.detach()
        if self.encoder_mel_weight > 0:
            enc_loss = self._encoder_mel_loss(memory, frame_lengths, feats, out_mask)
            loss = loss + self.encoder_mel_weight * enc_loss
            stats["encoder_mel_loss"] = enc_loss.detach()
        if self.unit_head is not None:
            hidden = dec_hidden if self.unit_head.side == "decoder" else memory
            logits = self.unit_head(hidden, feats.size(1), frame_lengths)
            units = self._unit_targets(kwargs.get("units"), kwargs.get("units_lengths"), feats_lengths)
            u_loss, u_acc = unit_loss(logits, units, out_mask, self.unit_label_smoothing)
            loss = loss + self.unit_weight * u_loss
            stats["unit_loss"], stats["unit_acc"] = u_loss.detach(), u_acc.detach()
        # the diagonal ends at the last real frame, not the period
        stats["att_diag"] = diagonal_share(att_ws.detach(), frame_lengths, att_lengths).mean()
        stats["ss_prob"] = torch.tensor(prob)
        stats["loss"] = loss.detach()
        return force_gatherable((loss, stats, feats.size(0)), loss.device)

    @staticmethod
    def _unit_targets(
        units: torch.Tensor | None, units_lengths: torch.Tensor | None, feats_lengths: torch.Tensor
    ) -> torch.Tensor:
        """The batch's units ``(B, L)`` for ``L`` mel frames, checked to be one per mel frame."""
        if units is None or units_lengths is None:
            raise ValueError(
                "unit_weight > 0 but the batch has no units: give the data input "
                "dump/<set>/units.scp,units,kaldi_ark (stage 2 with --unit_type)"
            )
        if not torch.equal(units_lengths.to(feats_lengths.device), feats_lengths):
            raise ValueError(
                f"units are not one per mel frame: unit counts {units_lengths.tolist()}, mel frames "
                f"{feats_lengths.tolist()}; compute the units again for these features (stage 2)"
            )
        length = int(feats_lengths.max())
        return units[:, :length].long()

    def _encoder_mel_loss(
        self, memory: torch.Tensor, video_lengths: torch.Tensor, feats: torch.Tensor, out_mask: torch.Tensor
    ) -> torch.Tensor:
        """MSE of a linear read-out of each encoder frame against the mel frames it spans."""
        index = video_frame_index(feats.size(1), self.mel_per_video_frame, video_lengths)  # (B, L)
        spanned = torch.gather(memory, 1, index.unsqueeze(2).expand(-1, -1, memory.size(2)))
        return masked_mse(self.encoder_mel(spanned), feats, out_mask)

    def collect_feats(self, video, video_lengths, feats, feats_lengths, **kwargs) -> dict[str, torch.Tensor]:
        return {"feats": feats, "feats_lengths": feats_lengths}

    def known_lengths(self, video_lengths: torch.Tensor) -> torch.Tensor:
        """Mel frames for ``video_lengths`` frames of synchronous video."""
        return torch.tensor(
            [math.floor(int(n) * self.mel_per_video_frame) for n in video_lengths],
            device=video_lengths.device,
        )

    @torch.no_grad()
    def generate(
        self,
        video: torch.Tensor,
        video_lengths: torch.Tensor,
        stop_mode: str | None = None,
        max_decode_steps: int | None = None,
        generators: Sequence[torch.Generator] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Free-running decoding of a batch: ``mel`` (PostNet output), ``mel_lengths``,
        ``attention`` ``(B, S, N)`` (one row per decoder step), ``attention_steps`` ``(B,)``
        and ``attention_lengths`` (encoder frames); with a unit head also ``units`` ``(B, L)``,
        the most likely unit of each mel frame (``mel_lengths`` of them are valid).
        ``generators``: one CPU generator per utterance for the PreNet's inference dropout, so
        that an utterance decodes the same in any batch; without them the dropout draws from
        the global generator."""
        stop_mode = stop_mode or self.stop_mode
        if stop_mode not in STOP_MODES:
            raise ValueError(f"stop_mode must be one of {STOP_MODES}, got {stop_mode!r}")
        if stop_mode == "visual_period" and self.stop_mode != "visual_period":
            raise ValueError("this model was trained without the visual period; use stop_mode known_length")
        max_steps = max_decode_steps or self.max_decode_steps
        memory, in_lengths = self.encode(video, video_lengths)
        pad_mask = ~sequence_mask(in_lengths, memory.size(1))
        if stop_mode == "visual_period":
            stop_index, lengths = in_lengths - 1, None
        else:
            stop_index, lengths = None, self.known_lengths(video_lengths)
        frames, out_len, att_ws, dec_hidden = self.decoder.generate(
            memory, pad_mask, stop_index, lengths, max_steps, generators, return_hidden=True
        )
        out_mask = sequence_mask(out_len, frames.size(1))
        frames = frames * out_mask.unsqueeze(2)
        mel = (frames + self.postnet(frames, out_mask)) * out_mask.unsqueeze(2)
        if self.normalize is not None:
            mel, _ = self.normalize.inverse(mel, out_len)
        result = {
            "mel": mel,
            "mel_lengths": out_len,
            "attention": att_ws,
            "attention_steps": self.decoder.num_steps(out_len),
            "attention_lengths": in_lengths,
        }
        if self.unit_head is not None:
            hidden = dec_hidden if self.unit_head.side == "decoder" else memory
            result["units"] = self.unit_head(hidden, mel.size(1), video_lengths).argmax(dim=2)
        return result

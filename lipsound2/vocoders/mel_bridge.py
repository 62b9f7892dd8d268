"""From the front end's log-mel to the log-mel a pre-trained vocoder was trained on.

A vocoder trained elsewhere expects its own mel: another sample rate, frame rate, filter bank
and level. :class:`MelBridge` maps our features onto it through the linear STFT magnitude,
built from the two settings (:class:`~lipsound2.frontend.config.MelConfig` and
:class:`VocoderMel`), never from fixed numbers:

1. the natural log is undone (the front end's :class:`~lipsound2.frontend.mel.LogMel` takes
   the natural log of the magnitude mel, clipped at ``mel.clip``);
2. the pseudo-inverse of our Slaney filter bank gives a magnitude on our FFT grid;
3. that magnitude is interpolated onto the vocoder's FFT grid (bin spacing
   ``sample_rate / n_fft`` differs between the two);
4. the vocoder's own Slaney filter bank makes its bands; steps 2-4 are one matrix;
5. the level is shifted by :attr:`MelBridge.level_offset` (see there), the vocoder's clip
   applied and its natural log taken;
6. the frames are put on the vocoder's frame times by Lanczos (windowed sinc) interpolation in
   the log domain.

After the vocoder, :meth:`MelBridge.to_our_rate` resamples its waveform to our sample rate and
cuts it to the length every vocoder here returns for that many frames.

A mismatch that cannot be bridged raises ``ValueError`` naming the front-end setting: a mel
band that does not reach the vocoder's bands (``mel.f_min``, ``mel.f_max``), or features
without peak normalisation (``mel.peak_normalize``), whose level the bridge cannot know.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr
import torch
import torchaudio

from lipsound2.frontend.mel import MelConfig
from lipsound2.vocoders.griffin_lim import output_length

# Lobes of the Lanczos kernel that puts the frames on the vocoder's frame times. On ground-truth
# GRID s1 mel (20 clips, bf16 generator) ESTOI was 0.738 with linear interpolation, 0.753 with
# 3 lobes (a cubic spline: the same), 0.755 with 6, 0.746 with 4 on half of them: 3 it is.
LANCZOS_LOBES = 3
# A band of the vocoder's filter bank needs at least this share of its weight inside our mel
# band; below it the bridge would feed the vocoder bands it has no information for.
MIN_BAND_COVERAGE = 0.5


@dataclass(frozen=True)
class VocoderMel:
    """The mel a vocoder was trained on: Slaney mel bands of the STFT magnitude (Hann window,
    centred frames) of audio peak-normalised to ``peak``, clipped at ``clip``, natural log."""

    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    f_min: float
    f_max: float
    clip: float
    peak: float


HIFIGAN_V1_MEL = VocoderMel(
    sample_rate=22050,
    n_fft=1024,
    win_length=1024,
    hop_length=256,
    n_mels=80,
    f_min=0.0,
    f_max=8000.0,
    clip=1e-5,
    peak=0.95,
)
"""The published HiFi-GAN's mel (its LJSpeech and universal generators): its training audio is
peak-normalised to 0.95, and its frames are centred on the middle of each hop of output."""


def slaney_filter_bank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """Slaney-scale, area-normalised mel filter bank ``(n_fft // 2 + 1, n_mels)``, as
    librosa's default and :class:`~lipsound2.frontend.mel.LogMel` use."""
    return torchaudio.functional.melscale_fbanks(
        n_freqs=n_fft // 2 + 1,
        f_min=f_min,
        f_max=f_max,
        n_mels=n_mels,
        sample_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )


def interpolation_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(len(target), len(source))`` weights of linear interpolation from values on the
    increasing grid ``source`` to the points ``target``; zero beyond ``source``'s last point."""
    weights = np.zeros((len(target), len(source)), np.float64)
    for row, point in enumerate(target):
        if point > source[-1] or point < source[0]:
            continue
        left = min(int(np.searchsorted(source, point, side="right")) - 1, len(source) - 2)
        share = (point - source[left]) / (source[left + 1] - source[left])
        weights[row, left] = 1.0 - share
        weights[row, left + 1] = share
    return weights


def band_coverage(ours: MelConfig, theirs: VocoderMel, rate: int) -> np.ndarray:
    """Share of each of the vocoder's bands' weight that lies within our ``f_min``-``f_max``,
    for the vocoder run at ``rate`` (see :class:`MelBridge`)."""
    fbank = slaney_filter_bank(theirs.sample_rate, theirs.n_fft, theirs.n_mels, theirs.f_min, theirs.f_max)
    freqs = np.arange(theirs.n_fft // 2 + 1) * rate / theirs.n_fft
    inside = torch.as_tensor((freqs >= ours.f_min) & (freqs <= ours.f_max), dtype=fbank.dtype)
    return ((fbank * inside[:, None]).sum(0) / fbank.sum(0).clamp_min(1e-12)).numpy()


def check_bridgeable(ours: MelConfig, theirs: VocoderMel, rate: int) -> None:
    """Raise ``ValueError`` naming the front-end setting that the bridge cannot carry over."""
    if not ours.peak_normalize:
        raise ValueError(
            "mel.peak_normalize is false: the pre-trained vocoder was trained on peak-normalised audio, "
            "and the level of features made without it is unknown; make the features with "
            "mel.peak_normalize true"
        )
    coverage = band_coverage(ours, theirs, rate)
    short = np.flatnonzero(coverage < MIN_BAND_COVERAGE)
    if len(short):
        setting, value = ("mel.f_min", ours.f_min) if short[0] == 0 else ("mel.f_max", ours.f_max)
        low, high = (f * rate / theirs.sample_rate for f in (theirs.f_min, theirs.f_max))
        raise ValueError(
            f"{setting} {value:g} Hz: the front end's mel band {ours.f_min:g}-{ours.f_max:g} Hz does not "
            f"reach the pre-trained vocoder's {low:g}-{high:g} Hz ({len(short)} of its "
            f"{theirs.n_mels} bands lie mostly outside it)"
        )


def derived_level_offset(ours: MelConfig, theirs: VocoderMel, rate: int) -> float:
    """Log-level shift from the bridged magnitude to the vocoder's, derived from the settings.

    Steps 2-4 of the bridge carry the magnitude per FFT bin over unchanged. For a broadband
    signal of a given spectral density the expected squared STFT magnitude per bin grows with
    the sample rate (``rate``, the one the vocoder runs at) and the window's energy
    (``rate * sum(window ** 2)``), so the vocoder's bins are larger by the square root of that
    ratio; its training audio peaks at
    ``theirs.peak`` where ours peaks at 1. On GRID speech the median difference between the
    bridged mel and the vocoder's own mel of the same audio is within 0.03 of this value
    (``test/vocoders/test_hifigan_pretrained.py``).
    """
    ours_energy = ours.sample_rate * float(torch.hann_window(ours.win_length).pow(2).sum())
    their_energy = rate * float(torch.hann_window(theirs.win_length).pow(2).sum())
    return 0.5 * math.log(their_energy / ours_energy) + math.log(theirs.peak)


def lanczos_resample(frames: torch.Tensor, positions: np.ndarray, lobes: int) -> torch.Tensor:
    """``frames (bands, n)`` at the fractional frame ``positions``: Lanczos (windowed sinc)
    interpolation with ``lobes`` lobes, weights normalised to sum to one, edge frames repeated."""
    count = frames.shape[1]
    pos = torch.as_tensor(positions, dtype=torch.float64).clamp(0, count - 1)
    taps = pos.floor().long()[:, None] + torch.arange(1 - lobes, lobes + 1)[None, :]
    distance = pos[:, None] - taps
    weights = torch.sinc(distance) * torch.sinc(distance / lobes)
    weights = (weights / weights.sum(1, keepdim=True)).to(frames.dtype)
    taps = taps.clamp(0, count - 1)
    out = torch.zeros(frames.shape[0], len(pos), dtype=frames.dtype)
    for k in range(taps.shape[1]):  # one tap at a time keeps long inputs in little memory
        out += frames[:, taps[:, k]] * weights[:, k]
    return out


class MelBridge:
    """Our log-mel ``(frames, n_mels)`` to the vocoder's ``(n_mels', frames')`` and the
    vocoder's waveform back to our rate; ``resample_frames=False`` keeps our frame count (only
    for showing what the frame-rate step is worth).

    ``rate``: the sample rate the vocoder's output is read at, by default the one it was
    trained at. Read at another rate, its output is its training audio slowed down (or sped
    up) by ``rate / theirs.sample_rate``, pitch and formants included, so each of its FFT bins
    and bands stands for a frequency scaled by that factor, and its frames follow
    ``rate / hop_length``; the bridge feeds each band what our mel has at that frequency. A
    vocoder read at our own rate makes fewer samples per second of speech and needs no
    resampling; the cost is the top of the band, which ends at ``f_max`` times the factor.
    """

    def __init__(
        self, ours: MelConfig, theirs: VocoderMel, resample_frames: bool = True, rate: int | None = None
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"the vocoder's output rate must be positive, not {rate}")
        self.rate = rate or theirs.sample_rate
        check_bridgeable(ours, theirs, self.rate)
        self.ours, self.theirs = ours, theirs
        self.frames_per_second = self.rate / theirs.hop_length
        self.resample_frames = resample_frames
        our_fbank = slaney_filter_bank(ours.sample_rate, ours.n_fft, ours.n_mels, ours.f_min, ours.f_max)
        their_fbank = slaney_filter_bank(
            theirs.sample_rate, theirs.n_fft, theirs.n_mels, theirs.f_min, theirs.f_max
        )
        our_freqs = np.arange(ours.n_fft // 2 + 1) * ours.sample_rate / ours.n_fft
        their_freqs = np.arange(theirs.n_fft // 2 + 1) * self.rate / theirs.n_fft
        grid = torch.as_tensor(interpolation_matrix(our_freqs, their_freqs), dtype=torch.float32)
        # our mel -> our FFT grid -> their FFT grid -> their mel, as one (their n_mels, our n_mels) matrix
        self.matrix = their_fbank.T @ grid @ torch.linalg.pinv(our_fbank.T)
        self.level_offset = derived_level_offset(ours, theirs, self.rate)

    def frame_positions(self, frames: int) -> np.ndarray:
        """Where the vocoder's frames fall on our frame axis, for ``frames`` of ours: as many
        as cover the ``output_length`` of ours, each at the middle of its hop of output."""
        duration = output_length(frames, self.ours) / self.ours.sample_rate
        count = max(math.ceil(duration * self.frames_per_second - 1e-9), 1)
        times = (np.arange(count) + 0.5) / self.frames_per_second
        return times * self.ours.frames_per_second

    def __call__(self, log_mel: np.ndarray) -> torch.Tensor:
        mel = np.asarray(log_mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[1] != self.ours.n_mels:
            raise ValueError(f"expected a (frames, {self.ours.n_mels}) mel, got {mel.shape}")
        magnitude = self.matrix @ torch.exp(torch.tensor(mel)).T  # (their n_mels, our frames)
        theirs = torch.log(magnitude.clamp_min(self.theirs.clip * math.exp(-self.level_offset)))
        theirs = theirs + self.level_offset
        if not self.resample_frames or mel.shape[0] < 2:
            return theirs
        return lanczos_resample(theirs, self.frame_positions(mel.shape[0]), LANCZOS_LOBES)

    def to_our_rate(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """The vocoder's waveform at our sample rate, cut or zero-padded to the length our
        vocoders give for ``frames`` mel frames."""
        wav = np.asarray(wav, dtype=np.float32)
        if self.rate != self.ours.sample_rate and len(wav):
            wav = soxr.resample(wav, self.rate, self.ours.sample_rate, quality="HQ")
        length = output_length(frames, self.ours)
        out = np.zeros(length, np.float32)
        out[: min(length, len(wav))] = wav[:length]
        return out

"""Video file in, speech out: the front end the model was trained with, then the network
on windows of the face track, then the vocoder.

A video longer than the window (default: 3 s, the utterance length of GRID, the shortest
clips any recipe trains on) is decoded in windows of that length, overlapping by at least
the overlap (default 0.5 s): the network only ever saw utterances about that long, and its
attention is not to be trusted far beyond them. The windows' mels are cross-faded over each
overlap, so each seam is a blend of two decodings that both saw the speech around it rather
than a cut in the middle of a word, and the joined mel is vocoded once, so the vocoder has no
seam to cross. With a units vocoder the predicted units are joined with the mel, each
overlapped frame taking its unit from the window weighing more there. A video within the
window gets exactly the model's mel (and units) of the whole track. The wav is cut or padded
to the video's duration.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lipsound2.frontend.detect import Detection, FaceDetector
from lipsound2.frontend.pipeline import make_detector, prepare_video
from lipsound2.inference.video2speech import Video2Speech

DEFAULT_WINDOW_S = 3.0
DEFAULT_OVERLAP_S = 0.5


def window_bounds(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` covering ``num_frames``: one when it fits in ``window``,
    else the fewest windows of exactly ``window`` frames, spread evenly, that overlap by at
    least ``overlap`` frames."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"window {window} frames with overlap {overlap} frames: need 0 <= overlap < window")
    if num_frames <= window:
        return [(0, num_frames)]
    count = math.ceil((num_frames - overlap) / (window - overlap))
    starts = np.round(np.linspace(0, num_frames - window, count)).astype(int)
    return [(int(a), int(a) + window) for a in starts]


def fit_length(array: np.ndarray, length: int, fill: float) -> np.ndarray:
    """``array`` cut or padded with ``fill`` along its first axis to ``length``."""
    if len(array) >= length:
        return array[:length]
    pad = np.full((length - len(array), *array.shape[1:]), fill, array.dtype)
    return np.concatenate([array, pad])


def _spans_and_weights(
    bounds: list[tuple[int, int]], per_frame: float
) -> tuple[list[tuple[int, int]], list[np.ndarray]]:
    """Each window's mel frame range ``[start, end)`` and its cross-fade weight per frame:
    1, falling linearly to 0 across each overlap with a neighbour."""
    spans = [(math.floor(a * per_frame), math.floor(b * per_frame)) for a, b in bounds]
    weights = []
    for i, (start, end) in enumerate(spans):
        w = np.ones(end - start)
        fade_in = spans[i - 1][1] - start if i > 0 else 0
        fade_out = end - spans[i + 1][0] if i + 1 < len(spans) else 0
        if fade_in > 0:
            w[:fade_in] = np.minimum(w[:fade_in], (np.arange(fade_in) + 0.5) / fade_in)
        if fade_out > 0:
            w[-fade_out:] = np.minimum(w[-fade_out:], (fade_out - np.arange(fade_out) - 0.5) / fade_out)
        weights.append(w)
    return spans, weights


def join_windows(
    mels: list[np.ndarray], bounds: list[tuple[int, int]], per_frame: float, silence: float
) -> np.ndarray:
    """One mel ``(floor(end * per_frame), n_mels)`` from the windows' mels: each put at its
    window's place (cut or padded with ``silence`` to its span), linearly cross-faded with its
    neighbours over their overlap."""
    spans, weights = _spans_and_weights(bounds, per_frame)
    total = spans[-1][1]
    out = np.zeros((total, mels[0].shape[1]), np.float64)
    weight = np.zeros(total, np.float64)
    for (start, end), w, mel in zip(spans, weights, mels):
        out[start:end] += w[:, None] * fit_length(mel, end - start, silence)
        weight[start:end] += w
    return (out / weight[:, None]).astype(np.float32)


def join_units(units: list[np.ndarray], bounds: list[tuple[int, int]], per_frame: float) -> np.ndarray:
    """The units ``(floor(end * per_frame),)`` of :func:`join_windows`' mel: units are labels,
    not to be averaged, so each frame takes the unit of the window weighing most in the
    cross-fade there (the earlier one on a tie). A window's units are cut to its span, or padded
    with its last unit (as its mel is padded with silence)."""
    spans, weights = _spans_and_weights(bounds, per_frame)
    total = spans[-1][1]
    out = np.zeros(total, np.int32)
    best = np.full(total, -1.0)
    for (start, end), w, unit in zip(spans, weights, units):
        last = int(unit[-1]) if len(unit) else 0
        here = fit_length(np.asarray(unit, np.int32), end - start, last)
        wins = w > best[start:end]
        out[start:end][wins] = here[wins]
        best[start:end][wins] = w[wins]
    return out


class CountingDetector:
    """The front end's detector, advancing a progress bar by one per detected frame."""

    def __init__(self, detector: FaceDetector) -> None:
        self.detector = detector
        self.bar: tqdm | None = None

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        if self.bar is not None:
            self.bar.update(1)
        return self.detector(frame)


@dataclass
class Spoken:
    """One video's result: ``wav`` float32 at ``rate``, the joined log-mel ``(frames, n_mels)``
    it was vocoded from, the video's ``seconds``, the ``work`` seconds it took (front end,
    network, vocoder), the number of ``windows`` it was decoded in, and from a model with a
    unit head the joined ``units`` ``(frames,)`` (None without one)."""

    wav: np.ndarray
    rate: int
    mel: np.ndarray
    seconds: float
    work: float
    windows: int
    units: np.ndarray | None = None


class VideoSpeaker:
    """A loaded model with the detector of its front end: video file in, speech out.

    ``window_s`` and ``overlap_s``: see the module's docstring; ``progress`` shows progress bars
    on a terminal."""

    def __init__(
        self,
        v2s: Video2Speech,
        window_s: float = DEFAULT_WINDOW_S,
        overlap_s: float = DEFAULT_OVERLAP_S,
        progress: bool = False,
    ) -> None:
        self.v2s = v2s
        self.window = max(1, round(window_s * v2s.fps))
        self.overlap = round(overlap_s * v2s.fps)
        window_bounds(self.window + 1, self.window, self.overlap)  # refuse impossible settings now
        self.detector = CountingDetector(make_detector(v2s.frontend))
        self.progress = progress

    def _bar(self, name: str, what: str, total: int | None = None) -> tqdm:
        # disable None: shown only on a terminal
        return tqdm(
            total=total,
            desc=f"{name}: {what}",
            unit=what.split()[0],
            disable=None if self.progress else True,
            leave=False,
        )

    def __call__(self, path: str | os.PathLike, name: str | None = None) -> Spoken:
        """Speech of the video file ``path``; ``name`` (default: the file's stem) seeds the
        dropout, with the model's seed, and labels the progress bars. Raises ``ValueError``
        with a one-line reason for a video that cannot be read or has no usable face."""
        path = str(path)
        name = Path(path).stem if name is None else name
        start = time.perf_counter()
        with self._bar(name, "frames detected") as bar:
            self.detector.bar = bar
            try:
                face = prepare_video(path, self.v2s.frontend, self.detector)
            finally:
                self.detector.bar = None
        spoken = self.speak_track(face.crops, name)
        spoken.work = time.perf_counter() - start
        return spoken

    def speak_track(self, track: np.ndarray, name: str) -> Spoken:
        """Speech of a face track as the front end crops it (uint8 ``(T, S, S[, 3])``), in
        windows; ``name`` as in :meth:`__call__`."""
        start = time.perf_counter()
        v2s = self.v2s
        bounds = window_bounds(len(track), self.window, self.overlap)
        keys = [name] if len(bounds) == 1 else [f"{name}@{a}" for a, _ in bounds]
        mels, units = [], []
        with self._bar(name, "windows decoded", len(bounds)) as bar:
            for i in range(0, len(bounds), v2s.batch_size):
                part = dict(zip(keys[i : i + v2s.batch_size], bounds[i : i + v2s.batch_size]))
                results = v2s.mel({key: track[a:b] for key, (a, b) in part.items()})
                mels += [results[key].mel for key in part]
                units += [results[key].units for key in part]
                bar.update(len(part))
        silence = math.log(v2s.frontend.mel.clip)
        per_frame = v2s.frontend.mel_per_video_frame
        mel = join_windows(mels, bounds, per_frame, silence)
        joined = None if units[0] is None else join_units(units, bounds, per_frame)
        seconds = len(track) / v2s.fps
        wav = fit_length(v2s.vocode(mel, joined), round(seconds * v2s.sample_rate), 0.0)
        took = time.perf_counter() - start
        return Spoken(wav, v2s.sample_rate, mel, seconds, took, len(bounds), joined)

"""One utterance through the front end: decode, track the face, crop, get the audio at
``audio.sample_rate``.

Frames larger than the detector's input (``detector.max_side``) are not held whole: the
first pass keeps the downscaled copy the detector would make anyway and tracks the face on
it; a second pass decodes the file again and crops each full-resolution frame as it comes.
So memory grows with the video's duration times the detector's frame size, not the source's
frame size, and the crops are those of a single full-resolution pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lipsound2.frontend.config import FrontendConfig
from lipsound2.frontend.crop import crop_frame, crop_frames, crop_shape, crop_transforms
from lipsound2.frontend.decode import (
    MediaError,
    VideoFrames,
    constant_rate_slots,
    decode_audio,
    load_audio,
    read_frames,
)
from lipsound2.frontend.detect import FaceDetector, build_detector, shrink
from lipsound2.frontend.track import FaceTrack, track_face


@dataclass
class FaceVideo:
    """``crops`` uint8 (T, S, S[, 3]) at the configured rate and the face ``track`` they follow
    (landmarks in the source's upright pixels); ``source_fps`` the stream's nominal rate."""

    crops: np.ndarray
    track: FaceTrack
    source_fps: float
    resampled: bool


@dataclass
class Prepared:
    """``crops`` uint8 (T, S, S[, 3]) at the configured rate; ``wav`` float32 mono."""

    crops: np.ndarray
    wav: np.ndarray
    track: FaceTrack
    source_fps: float
    resampled: bool


@dataclass
class _Tracking:
    """The first pass: one frame per output slot, at most ``detector.max_side`` px, and the
    decoded frame each slot shows (for the second pass)."""

    frames: np.ndarray
    scale: float
    sources: np.ndarray
    source_fps: float
    resampled: bool


def make_detector(config: FrontendConfig) -> FaceDetector:
    d = config.detector
    return build_detector(d.name, max_side=d.max_side, score_threshold=d.score_threshold)


def match_length(wav: np.ndarray, num_frames: int, config: FrontendConfig) -> np.ndarray:
    """Check the audio against the video duration; trim or zero-pad it to the video when configured."""
    sr, fps = config.audio.sample_rate, config.video.fps
    video_s, audio_s = num_frames / fps, len(wav) / sr
    limit = config.audio.max_av_diff
    if abs(audio_s - video_s) > limit:
        raise MediaError(f"audio {audio_s:.3f} s and video {video_s:.3f} s differ by more than {limit:g} s")
    if not config.audio.match_video:
        return wav
    target = int(round(num_frames * sr / fps))
    if len(wav) >= target:
        return wav[:target]
    return np.concatenate([wav, np.zeros(target - len(wav), wav.dtype)])


def _decode_for_tracking(video_spec: str, config: FrontendConfig) -> _Tracking:
    max_side = config.detector.max_side
    sizes: list[tuple[int, int]] = []
    scales: list[float] = []

    def keep(frame: np.ndarray) -> np.ndarray:
        if not sizes:
            sizes.append(frame.shape[:2])
        small, scale = shrink(frame, max_side)
        scales.append(scale)
        return small

    frames, times, source_fps = read_frames(
        video_spec, config.video.fps, config.video.resample, transform=keep
    )
    height, width = sizes[0]
    if min(height, width) < config.video.min_size:
        raise MediaError(f"frames of {width}x{height} are smaller than {config.video.min_size} px")
    if len({f.shape for f in frames}) > 1:
        raise MediaError("the frame size changes within the video")
    sources, resampled = constant_rate_slots(times, config.video.fps, source_fps)
    return _Tracking(np.stack([frames[i] for i in sources]), scales[0], sources, source_fps, resampled)


def _crop_full_resolution(
    video_spec: str, tracking: _Tracking, landmarks: np.ndarray, config: FrontendConfig
) -> np.ndarray:
    """The second pass: decode again and crop every slot from its full-resolution frame."""
    mats = crop_transforms(landmarks, config.crop)
    slots: dict[int, list[int]] = {}
    for slot, source in enumerate(tracking.sources):
        slots.setdefault(int(source), []).append(slot)
    out = np.empty(crop_shape(len(tracking.sources), config.crop), np.uint8)
    filled = 0
    with VideoFrames(video_spec, config.video.fps, config.video.resample) as video:
        for index, (frame, _) in enumerate(video):
            for slot in slots.get(index, ()):
                out[slot] = crop_frame(frame, mats[slot], config.crop)
                filled += 1
    if filled != len(out):
        raise MediaError(
            f"the video changed while it was read ({filled} of {len(out)} frames on the second pass)"
        )
    return out


def _track_and_crop(
    video_spec: str, tracking: _Tracking, config: FrontendConfig, detector: FaceDetector
) -> tuple[np.ndarray, FaceTrack]:
    d, t = config.detector, config.track
    track = track_face(
        tracking.frames,
        detector,
        every=d.every,
        refine_motion=d.refine_motion,
        smooth_window=t.smooth_window,
        max_lost_share=t.max_lost_share,
        max_gap=t.max_gap,
    )
    if tracking.scale == 1.0:
        return crop_frames(tracking.frames, track.landmarks, config.crop), track
    # The detector saw the downscaled frames; its landmarks are mapped back as it would map them.
    track.landmarks = track.landmarks / tracking.scale
    return _crop_full_resolution(video_spec, tracking, track.landmarks, config), track


def prepare_video(video_spec: str, config: FrontendConfig, detector: FaceDetector) -> FaceVideo:
    """The face track of one video, its audio untouched (it may have none); raises
    ``ValueError`` subclasses naming the reason, as :func:`prepare` does."""
    tracking = _decode_for_tracking(video_spec, config)
    crops, track = _track_and_crop(video_spec, tracking, config, detector)
    return FaceVideo(crops, track, tracking.source_fps, tracking.resampled)


def prepare(
    video_spec: str, audio_spec: str | None, config: FrontendConfig, detector: FaceDetector
) -> Prepared:
    """Everything stage 1 needs for one utterance; raises ``ValueError`` subclasses naming the reason.

    ``audio_spec`` None takes the audio from the video file itself.
    """
    tracking = _decode_for_tracking(video_spec, config)
    if audio_spec is None:
        wav = decode_audio(video_spec, config.audio.sample_rate, config.audio.resample_quality)
    else:
        wav = load_audio(audio_spec, config.audio.sample_rate, config.audio.resample_quality)
    wav = match_length(wav, len(tracking.frames), config)
    peak = float(np.abs(wav).max())
    if peak == 0:
        raise MediaError("silent audio (all samples zero)")
    if peak > 1.0:
        # Resampling can overshoot full scale; scale down rather than clip in the 16-bit wav
        # (the mel features divide by the peak anyway).
        wav = wav / peak
    crops, track = _track_and_crop(video_spec, tracking, config, detector)
    return Prepared(crops, wav, track, tracking.source_fps, tracking.resampled)

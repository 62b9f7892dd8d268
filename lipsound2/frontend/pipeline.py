"""One utterance through the front end: decode, track the face, crop, get the audio at
``audio.sample_rate``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lipsound2.frontend.config import FrontendConfig
from lipsound2.frontend.crop import crop_frames
from lipsound2.frontend.decode import MediaError, decode_audio, decode_video, load_audio
from lipsound2.frontend.detect import FaceDetector, build_detector
from lipsound2.frontend.track import FaceTrack, track_face


@dataclass
class Prepared:
    """``crops`` uint8 (T, S, S[, 3]) at the configured rate; ``wav`` float32 mono."""

    crops: np.ndarray
    wav: np.ndarray
    track: FaceTrack
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


def prepare(
    video_spec: str, audio_spec: str | None, config: FrontendConfig, detector: FaceDetector
) -> Prepared:
    """Everything stage 1 needs for one utterance; raises ``ValueError`` subclasses naming the reason.

    ``audio_spec`` None takes the audio from the video file itself.
    """
    video = decode_video(video_spec, config.video.fps, config.video.resample)
    height, width = video.frames.shape[1:3]
    if min(height, width) < config.video.min_size:
        raise MediaError(f"frames of {width}x{height} are smaller than {config.video.min_size} px")
    if audio_spec is None:
        wav = decode_audio(video_spec, config.audio.sample_rate, config.audio.resample_quality)
    else:
        wav = load_audio(audio_spec, config.audio.sample_rate, config.audio.resample_quality)
    wav = match_length(wav, len(video.frames), config)
    peak = float(np.abs(wav).max())
    if peak == 0:
        raise MediaError("silent audio (all samples zero)")
    if peak > 1.0:
        # Resampling can overshoot full scale; scale down rather than clip in the 16-bit wav
        # (the mel features divide by the peak anyway).
        wav = wav / peak
    d, t = config.detector, config.track
    track = track_face(
        video.frames,
        detector,
        every=d.every,
        refine_motion=d.refine_motion,
        smooth_window=t.smooth_window,
        max_lost_share=t.max_lost_share,
        max_gap=t.max_gap,
    )
    crops = crop_frames(video.frames, track.landmarks, config.crop)
    return Prepared(crops, wav, track, video.source_fps, video.resampled)

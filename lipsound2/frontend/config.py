"""The front-end configuration (recipe ``conf/frontend.yaml``), one section per step.

It is the one source of the feature settings: the stage script passes the same file as
``--frontend_config`` to feature extraction, training (the model's ``n_mels`` and mel frames
per video frame), inference, the vocoders and their training.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.crop import CropConfig
from lipsound2.frontend.mel import MelConfig


@dataclass(frozen=True)
class VideoConfig:
    """``fps`` output rate; ``resample`` puts other rates on that grid by timestamp (False: reject
    them); ``min_size`` smallest frame side accepted, in pixels."""

    fps: float = 25.0
    resample: bool = True
    min_size: int = 48


@dataclass(frozen=True)
class AudioConfig:
    """``max_av_diff`` largest audio/video duration difference accepted, in seconds; within it
    ``match_video`` trims or zero-pads the audio to exactly the video's duration."""

    sample_rate: int = MelConfig.sample_rate
    resample_quality: str = "HQ"
    max_av_diff: float = 0.2
    match_video: bool = True


@dataclass(frozen=True)
class DetectorConfig:
    """``every`` detect on every k-th frame; ``refine_motion`` landmark motion between key frames,
    in eye-to-mouth distances, above which the frames in between are detected too."""

    name: str = "retinaface"
    max_side: int = 640
    score_threshold: float = 0.8
    every: int = 5
    refine_motion: float = 0.1


@dataclass(frozen=True)
class TrackConfig:
    """``smooth_window`` frames of the moving average over landmarks; ``max_lost_share`` and
    ``max_gap`` (frames) bound how much of the face may be missing before a clip is rejected."""

    smooth_window: int = 5
    max_lost_share: float = 0.2
    max_gap: int = 25


@dataclass(frozen=True)
class StorageConfig:
    """``format`` mp4 (H.264 files, default) or ark (raw uint8); ``crf``/``preset`` for mp4."""

    format: str = "mp4"
    crf: int = 14
    preset: str = "veryfast"


@dataclass(frozen=True)
class FrontendConfig:
    """All front-end settings; ``mel_tolerance`` is how many mel frames the feature count may
    differ from :attr:`mel_per_video_frame` x video frames (beyond the one frame a centred STFT
    adds). The mel features are computed at ``audio.sample_rate``: ``mel.sample_rate`` is not
    set separately."""

    video: VideoConfig = field(default_factory=VideoConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    mel_tolerance: float = 3.0

    def __post_init__(self) -> None:
        if self.mel.sample_rate != self.audio.sample_rate:
            raise ValueError(
                f"mel.sample_rate {self.mel.sample_rate} differs from audio.sample_rate "
                f"{self.audio.sample_rate}: the features are computed from the prepared audio"
            )

    @property
    def mel_per_video_frame(self) -> float:
        """Mel frames per video frame: 2.5 for the paper's 16 ms hop at 16 kHz and 25 fps."""
        return self.mel.frames_per_second / self.video.fps


def _build(cls: type, values: object, where: str):
    if not dataclasses.is_dataclass(cls):
        return values
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    kwargs = {}
    for name, value in values.items():
        default = (
            fields[name].default_factory if fields[name].default_factory is not dataclasses.MISSING else None
        )
        sub = type(default()) if default else None
        kwargs[name] = (
            _build(sub, value, f"{where}.{name}") if sub and dataclasses.is_dataclass(sub) else value
        )
    return cls(**kwargs)


def load_config(path: str | os.PathLike | None = None) -> FrontendConfig:
    """Read a front-end YAML file; missing keys keep their defaults."""
    if path is None:
        return FrontendConfig()
    values = load_yaml(path)
    audio, mel = values.get("audio") or {}, values.get("mel") or {}
    if isinstance(audio, dict) and isinstance(mel, dict):
        rate = audio.get("sample_rate", AudioConfig.sample_rate)
        if mel.get("sample_rate", rate) != rate:
            raise ValueError(
                f"{path}: mel.sample_rate {mel['sample_rate']} differs from audio.sample_rate {rate}; "
                "set the rate once, under audio"
            )
        values = {**values, "mel": {**mel, "sample_rate": rate}}
    return _build(FrontendConfig, values, str(path))


def config_to_dict(config: FrontendConfig) -> dict:
    """Plain nested dict (for logs and for writing the config used next to the outputs)."""
    return dataclasses.asdict(config)

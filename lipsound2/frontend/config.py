"""The front-end configuration (recipe ``conf/frontend.yaml``), one section per step.

It is the one source of the feature settings: the stage script passes the same file as
``--frontend_config`` to feature extraction, training (the model's ``n_mels`` and mel frames
per video frame), inference, the vocoders and their training.

The settings also travel with what was made with them: the resolved settings are written as
:data:`SETTINGS_FILE` beside the data of stages 1-2 and in an experiment
(:func:`write_settings`), and a later step compares the file it is given against them
(:func:`check_agrees`) in the keys that step depends on (:data:`STAGE1_SECTIONS`, ...).

Every section's settings are defined here, free of heavy imports (no torch, no OpenCV), so
that the stage script's checks (:mod:`lipsound2.bin.frontend_settings`) start in a moment.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from lipsound2 import paper
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.yamlio import load_yaml

SETTINGS_FILE = "frontend.yaml"
"""Name of the resolved settings written beside the data of stages 1-2 and in an experiment."""

# What each step reads, as sections or dotted keys for :func:`differences`. "mel" includes the
# rate the features are computed at, audio.sample_rate (mel.sample_rate is not set separately).
STAGE1_SECTIONS = ("video", "audio", "detector", "track", "crop", "storage")
"""Stage 1 (``prepare_av``): decoding, face tracking, crops, their storage and the audio."""
STAGE2_SECTIONS = ("mel", "mel_tolerance", "video.fps")
"""Stage 2 (``extract_mel``): the mel, and its length check against the video frames."""
MODEL_SECTIONS = ("mel", "video.fps")
"""A trained model: the mel it generates and its mel frames per video frame."""
VOCODER_SECTIONS = ("mel",)
"""A vocoder, and the mel it inverts."""
SECTION_GROUPS = {
    "stage1": STAGE1_SECTIONS,
    "stage2": STAGE2_SECTIONS,
    "model": MODEL_SECTIONS,
    "vocoder": VOCODER_SECTIONS,
}
"""Names for the tuples above, for ``lipsound2.bin.frontend_settings compare --sections``."""


# Side of the square relative to the eye-to-mouth distance, and where its centre sits
# between the eye centre (0) and the mouth centre (1); margin widens the side further.
CROP_REGIONS = {"face": (2.6, 0.45), "mouth": (1.3, 1.05)}


@dataclass(frozen=True)
class CropConfig:
    """``region`` face or mouth; ``size`` output side in pixels; ``margin`` extra share of the side;
    ``gray`` one channel; ``align`` rotate so the eyes are level."""

    region: str = paper.CROP_REGION
    size: int = paper.IMAGE_SIZE
    margin: float = 0.0
    gray: bool = False
    align: bool = True

    def __post_init__(self) -> None:
        if self.region not in CROP_REGIONS:
            raise ValueError(f"crop region must be one of {sorted(CROP_REGIONS)}, not {self.region!r}")
        if self.size < 8:
            raise ValueError(f"crop size {self.size} is too small")


@dataclass(frozen=True)
class MelConfig:
    """Mel settings (:mod:`lipsound2.frontend.mel`); the defaults are the paper's. In a recipe
    they come from ``conf/frontend.yaml``, whose audio rate is ``sample_rate``."""

    sample_rate: int = paper.MEL["sample_rate"]
    n_fft: int = paper.MEL["n_fft"]
    win_length: int = paper.MEL["win_length"]
    hop_length: int = paper.MEL["hop_length"]
    n_mels: int = paper.MEL["n_mels"]
    f_min: float = 0.0
    f_max: float = 8000.0
    clip: float = paper.MEL["clip"]
    peak_normalize: bool = paper.MEL["peak_normalize"]

    def __post_init__(self) -> None:
        if min(self.sample_rate, self.n_fft, self.win_length, self.hop_length, self.n_mels) <= 0:
            raise ValueError(f"mel settings must be positive: {self}")
        if self.win_length > self.n_fft:
            raise ValueError(f"mel win_length {self.win_length} is longer than n_fft {self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise ValueError(
                f"mel band {self.f_min:g}-{self.f_max:g} Hz must lie within 0-{self.sample_rate / 2:g} Hz "
                f"(half of sample_rate {self.sample_rate})"
            )

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class VideoConfig:
    """``fps`` output rate; ``resample`` puts other rates on that grid by timestamp (False: reject
    them); ``min_size`` smallest frame side accepted, in pixels."""

    fps: float = paper.FPS
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


def write_settings(config: FrontendConfig, path: str | os.PathLike) -> None:
    """Write the fully resolved ``config`` (every key, defaults included) to ``path``, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config_to_dict(config), f, sort_keys=False)


def _leaves(values: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _leaves(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _settings(config: FrontendConfig) -> dict[str, object]:
    """The leaf keys of ``config``; mel.sample_rate, always audio.sample_rate, is left out."""
    flat = _leaves(config_to_dict(config))
    del flat["mel.sample_rate"]
    return flat


def _names(key: str) -> tuple[str, ...]:
    """The names a leaf key answers to in ``sections``: audio.sample_rate is the mel's rate too."""
    return (key, "mel.sample_rate") if key == "audio.sample_rate" else (key,)


def _in_sections(key: str, sections: Iterable[str]) -> bool:
    return any(name == s or name.startswith(f"{s}.") for name in _names(key) for s in sections)


def _differing(
    a: FrontendConfig, b: FrontendConfig, sections: Iterable[str] | None
) -> list[tuple[str, object, object]]:
    left, right = _settings(a), _settings(b)
    if sections is not None:
        sections = tuple(sections)
        unknown = [s for s in sections if not any(_in_sections(key, (s,)) for key in left)]
        if unknown:
            known = sorted({key.split(".")[0] for key in left})
            raise ValueError(
                f"unknown front-end section(s) {', '.join(unknown)}; known: {', '.join(known)} "
                "or one of their keys (video.fps)"
            )
        left = {key: value for key, value in left.items() if _in_sections(key, sections)}
    return [(key, value, right[key]) for key, value in left.items() if value != right[key]]


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def differences(a: FrontendConfig, b: FrontendConfig, sections: Iterable[str] | None = None) -> list[str]:
    """``key: <a's value> -> <b's value>`` for every leaf key in which ``a`` and ``b`` differ,
    in the config's order; ``sections`` (names such as ``mel`` or dotted keys such as
    ``video.fps``) limits the comparison to those, None compares all."""
    return [f"{key}: {_show(x)} -> {_show(y)}" for key, x, y in _differing(a, b, sections)]


class SettingsMismatchError(ValueError):
    """Two front-end files disagree in keys that matter (:func:`check_agrees`)."""


def check_agrees(
    given: str | os.PathLike,
    data_settings: str | os.PathLike,
    sections: Iterable[str] | None = None,
    what: str = "the settings the data were made with",
    fix: str = "run stages 1-2 again to remake the data, or use that file",
) -> FrontendConfig:
    """``given``'s settings, after checking that they agree with ``data_settings`` (a
    :data:`SETTINGS_FILE` written with some data or model) in ``sections`` (None: all keys).

    Raises :class:`SettingsMismatchError` (a ``ValueError``) naming both files and every differing
    key with both values; ``what`` says what ``data_settings`` are, ``fix`` how to mend it.
    """
    config = load_config(given)
    found = _differing(config, load_config(data_settings), sections)
    if found:
        keys = ", ".join(
            f"{key}: {_show(x)} ({given}) vs {_show(y)} ({data_settings})" for key, x, y in found
        )
        raise SettingsMismatchError(f"{given} disagrees with {data_settings}, {what}: {keys}; {fix}")
    return config


def settings_beside(
    given: str | os.PathLike | None,
    directory: str | os.PathLike,
    sections: Iterable[str] | None,
    what: str,
    fix: str,
) -> str | os.PathLike | None:
    """The front-end file for what lies in ``directory``: ``given``, checked against the
    :data:`SETTINGS_FILE` there (:func:`check_agrees`) when there is one; without ``given``
    that file; None when there is neither (the defaults)."""
    beside = os.path.join(directory, SETTINGS_FILE)
    if not os.path.isfile(beside):
        return given
    if given is None:
        return beside
    check_agrees(given, beside, sections, what, fix)
    return given

"""Running a trained model: :class:`Video2Speech` (face track in, speech out),
:class:`VideoSpeaker` (video file in, speech out) and packed models
(:mod:`lipsound2.inference.pack`). See docs/inference.md.

:class:`VideoSpeaker` and :class:`Spoken` are imported on first use: they bring the front
end (PyAV, the face detector), which decoding face tracks does not need."""

from __future__ import annotations

from typing import Any

from lipsound2.inference.video2speech import MelResult, Speech, Video2Speech

__all__ = ["MelResult", "Speech", "Spoken", "Video2Speech", "VideoSpeaker"]


def __getattr__(name: str) -> Any:
    if name in ("Spoken", "VideoSpeaker"):
        from lipsound2.inference import video_speaker

        return getattr(video_speaker, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

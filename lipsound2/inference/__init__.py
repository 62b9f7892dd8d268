"""Running a trained model: :class:`Video2Speech` (face track in, speech out),
:class:`VideoSpeaker` (video file in, speech out) and packed models
(:mod:`lipsound2.inference.pack`). See docs/inference.md."""

from lipsound2.inference.video import Spoken, VideoSpeaker
from lipsound2.inference.video2speech import MelResult, Speech, Video2Speech

__all__ = ["MelResult", "Speech", "Spoken", "Video2Speech", "VideoSpeaker"]

"""LipSound2: silent face video to mel spectrogram, vocoder and cascaded lip reader."""

__version__ = "0.1.0"

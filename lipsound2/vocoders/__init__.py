"""Mel-to-waveform vocoders."""

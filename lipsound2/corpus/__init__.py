"""Generated audio-visual corpora for CPU-only runs and tests."""

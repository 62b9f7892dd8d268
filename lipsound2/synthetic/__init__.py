"""Generated audio-visual corpora in the real corpora's layouts, for CPU-only runs and tests."""

"""Command-line entry points, run as ``python -m lipsound2.bin.<name>``."""

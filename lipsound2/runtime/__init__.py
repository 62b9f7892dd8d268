"""The process and the checkout this package runs in: the C library's allocator
(:mod:`~lipsound2.runtime.malloc`) and where the code came from
(:mod:`~lipsound2.runtime.provenance`).

A ground-floor package: it imports nothing from lipsound2, so every other folder may import it."""

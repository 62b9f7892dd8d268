"""The scripts of ``bench/`` as modules, for tests of their parts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as module ``name`` (once; later calls return the same one).

    The bench scripts are run as programs, not installed, so they are loaded from their file;
    the module is registered under its own name so that what it registers elsewhere (ESPnet
    loader types) and what it pickles refer to one module."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None, name
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]

"""reuse_large_allocations: large tensors come from the heap and stay in the process when freed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lipsound2.runtime.malloc import reuse_large_allocations

# Allocates a 128 MB tensor and reports whether it lies in the [heap] mapping, and how much
# resident memory freeing it gave back to the system.
PROBE = """
import json, sys
import torch
from lipsound2.runtime.malloc import reuse_large_allocations
if sys.argv[1] == "on":
    assert reuse_large_allocations()
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
def heap():
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            start, end = line.split()[0].split("-")
            return int(start, 16), int(end, 16)
    return 0, 0
a = torch.ones(1 << 25)
start, end = heap()
held = rss_mb()
in_heap = start <= a.data_ptr() < end
del a
print(json.dumps({"in_heap": in_heap, "released_mb": held - rss_mb()}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator only")
def test_large_tensor_comes_from_the_heap_and_stays_when_freed():
    default = _probe("off")
    assert not default["in_heap"] and default["released_mb"] > 100  # mmapped, unmapped on free
    kept = _probe("on")
    assert kept["in_heap"] and kept["released_mb"] < 1


def test_block_limit_is_checked():
    with pytest.raises(ValueError, match="max_block"):
        reuse_large_allocations(2 << 30)

"""reuse_large_allocations: a large tensor freed and allocated again costs no new page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lipsound2.allocator import reuse_large_allocations

# Allocates and fills a 128 MB tensor twice (PyTorch's allocator, 4 kB pages unless the
# environment asks for huge pages), then prints the minor page faults of the second time.
PROBE = """
import resource, sys
import torch
from lipsound2.allocator import reuse_large_allocations
if sys.argv[1] == "on":
    assert reuse_large_allocations()
a = torch.ones(1 << 25); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = torch.ones(1 << 25)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES = (1 << 27) // 4096


def _second_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator only")
def test_freed_block_is_reused_without_page_faults():
    control = _second_faults("off")
    if control < PAGES // 2:
        pytest.skip(f"the default allocator already reuses the block here ({control} faults)")
    assert _second_faults("on") < PAGES // 20


def test_block_limit_is_checked():
    with pytest.raises(ValueError, match="max_block"):
        reuse_large_allocations(2 << 30)

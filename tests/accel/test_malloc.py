"""keep_freed_memory: freed training memory is reused instead of faulted in again each step."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="glibc malloc only")

# Allocates four 6 MB tensors and frees them, round after round (as training steps do with their
# activations); prints the minor page faults of the last 5 rounds and keep_freed_memory's answer.
PROBE = """
import json, resource, sys, torch
from speechlang.accel.malloc import keep_freed_memory
on = keep_freed_memory() if sys.argv[1] == "keep" else False
x = torch.ones(2 << 20)  # an 8 MB block, freed: the dynamic mmap threshold rises to 8 MB
del x
def rounds(n):
    for _ in range(n):
        t = [torch.ones(3 << 19) for _ in range(4)]
        del t
rounds(2)
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(5)
print(json.dumps({"on": on, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}))
"""


def _probe(mode: str, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "LD_PRELOAD"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env={**clean, **env}, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_freed_memory_is_reused_without_page_faults():
    # whether glibc's defaults trim a free heap top depends on what else sits above it; the
    # baseline here trims on every free, so the same pattern must fault every round
    trimming, kept = _probe("default", MALLOC_TRIM_THRESHOLD_="0"), _probe("keep")
    pages = 4 * (3 << 19) * 4 // os.sysconf("SC_PAGE_SIZE")  # one round's tensors, in pages
    assert kept["on"] is True
    assert trimming["faults"] >= 4 * pages  # handed back on free, faulted in again
    assert kept["faults"] < pages // 2  # against 5 rounds of faults above; the odd MB may still grow


def test_a_users_malloc_settings_win():
    assert _probe("keep", MALLOC_ARENA_MAX="2")["on"] is False

"""glibc malloc settings for training on the CPU.

Every step of a training loop frees its activations and gradients and allocates them again at
the same sizes. glibc's defaults hand such memory back to the kernel (large blocks are mmap'ed
and unmapped; a free top of the heap is trimmed), so each step faults the same pages in again
and the kernel zeroes them (a small residual net, one epoch of 1,536 images on 1 thread:
47,000-135,000 minor page faults, more in a process's first epoch; 23-9,500 with these
settings). `keep_freed_memory` makes glibc keep freed memory in the process for reuse instead.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit: blocks below it come from the heap
TRIM_THRESHOLD = 1 << 30  # free heap top kept up to 1 GiB

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory in the process for reuse (mallopt); once per process.

    Returns whether the settings are in force. Leaves malloc alone where it is not glibc's,
    where the environment sets MALLOC_* tunables, or where another allocator is preloaded
    (LD_PRELOAD), so a user's own choice wins. The process's resident memory then stays near
    its peak instead of shrinking between steps.
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    env = os.environ
    if (not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc"
            or any(k.startswith("MALLOC_") for k in env) or "GLIBC_TUNABLES" in env or env.get("LD_PRELOAD")):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                       TRIM_THRESHOLD))
    return _done

"""Thread counts for torch intra-op work and numba parallel kernels."""

from __future__ import annotations

import os

import torch

from speechlang.errors import ConfigError


def cpu_count() -> int:
    """CPUs this process may run on (respects affinity masks and cgroups' cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(n: int | None) -> int:
    """Use `n` threads for torch and numba (None or 0: all available CPUs); returns the count."""
    if n is None or n == 0:
        n = cpu_count()
    if n < 0:
        raise ConfigError(f"--threads must be >= 0, got {n}")
    import numba

    # numba first: starting its OpenMP thread pool resets the OpenMP thread count that torch
    # shares, so a torch count set before it would be lost (torch then runs on every CPU and
    # one-thread runs stop repeating exactly)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(n)
    return n

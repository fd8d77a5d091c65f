"""Machine figures so other numbers can be read against the hardware: `accel info`, `accel bench`."""

from __future__ import annotations

import platform
import time

import numpy as np
import torch

from speechlang import __version__
from speechlang.accel.threads import cpu_count


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_time(fn, device: torch.device, repeats: int, min_time: float = 0.2) -> float:
    """Best wall time in seconds of `fn()` over repeated runs (after one warm-up call)."""
    fn()
    _sync(device)
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeats or spent < min_time:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        dt = time.perf_counter() - t0
        best, spent, runs = min(best, dt), spent + dt, runs + 1
        if runs >= 50 * repeats:
            break
    return best


def matmul_flops(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Dense n x n matmul throughput in FLOP/s (2 n^3 per product)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    t = _best_time(lambda: torch.mm(a, b), device, repeats)
    return 2 * n**3 / t


def copy_bandwidth(device: torch.device, mbytes: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth in bytes/s of a device-to-device copy (read + write counted)."""
    n = mbytes * 2**20 // 4
    src = torch.empty(n, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    t = _best_time(lambda: dst.copy_(src), device, repeats)
    return 2 * n * 4 / t


def info() -> dict:
    """Versions, threads and devices of this machine."""
    import numba

    rec = {
        "speechlang": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "numba": numba.__version__, "machine": platform.machine(),
        "processor": _cpu_name(), "cpus": cpu_count(), "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(), "cuda": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda, "gpus": [],
    }
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        rec["gpus"].append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                            "capability": f"{p.major}.{p.minor}", "bf16": torch.cuda.is_bf16_supported()})
    return rec


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(device: torch.device, n: int = 2048) -> dict:
    """matmul FLOP/s in fp32 and bf16 and copy bandwidth on `device`."""
    rec = {"device": str(device), "matmul_n": n,
           "fp32_gflops": matmul_flops(device, torch.float32, n) / 1e9,
           "bf16_gflops": matmul_flops(device, torch.bfloat16, n) / 1e9}
    if device.type == "cuda":
        rec["fp16_gflops"] = matmul_flops(device, torch.float16, n) / 1e9
    rec["copy_gbps"] = copy_bandwidth(device) / 1e9
    return rec

"""The one device registry: `resolve_device` maps a user's `--device` to a torch.device."""

from __future__ import annotations

import os
import re

import torch

from speechlang import log
from speechlang.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
_logged: set[str] = set()


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve_device(spec: str = "auto", *, announce: bool = True) -> torch.device:
    """Map "auto" | "cpu" | "cuda" | "cuda:N" | "mps" to a torch.device, checking availability.

    "auto" picks CUDA when present (the local rank's GPU under torchrun), else MPS, else CPU.
    The choice is logged once per process; on a CPU choice with a GPU present, the log says
    how to use it.
    """
    spec = (spec or "auto").strip().lower()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if spec == "auto":
        if torch.cuda.is_available():
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        elif _mps_available():
            dev = torch.device("mps")
        else:
            dev = torch.device("cpu")
    elif spec == "cpu":
        dev = torch.device("cpu")
    elif re.fullmatch(r"cuda(:\d+)?", spec):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {spec}: CUDA is not available here; use --device cpu or auto")
        index = int(spec.split(":")[1]) if ":" in spec else local_rank % torch.cuda.device_count()
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
        dev = torch.device("cuda", index)
    elif spec == "mps":
        if not _mps_available():
            raise ConfigError("--device mps: Apple MPS is not available here; use --device cpu or auto")
        dev = torch.device("mps")
    else:
        raise ConfigError(f"--device {spec!r} is not one of {', '.join(DEVICES)}")
    if announce and str(dev) not in _logged:
        _logged.add(str(dev))
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else ""
        log.info(f"device {dev}{' (' + name + ')' if name else ''}")
        if dev.type == "cpu" and torch.cuda.is_available():
            log.info("a CUDA GPU is present but unused; pass --device cuda to use it")
    return dev

"""Precision policy: fp32, bf16 autocast, or fp16 autocast with dynamic loss scaling."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from speechlang.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """How forward passes run on `device`: `autocast()` wraps them, `scaler()` scales fp16 losses."""

    name: str
    device_type: str

    @property
    def dtype(self) -> torch.dtype:
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.name]

    def autocast(self):
        """A context manager running ops in the reduced dtype where safe (no-op for fp32)."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A dynamic loss scaler for fp16 (skips steps whose gradients overflow); None otherwise."""
        if self.name != "fp16":
            return None
        return torch.amp.GradScaler(self.device_type)


def precision_policy(name: str, device: torch.device) -> Precision:
    """Check `name` against the device: bf16 needs CPU or a GPU with bf16 support."""
    name = name.lower()
    if name not in PRECISIONS:
        raise ConfigError(f"--precision {name!r} is not one of {', '.join(PRECISIONS)}")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("--precision bf16: this GPU has no bf16 support; use fp16 or fp32")
    if device.type == "mps" and name != "fp32":
        raise ConfigError(f"--precision {name}: only fp32 is supported on MPS")
    return Precision(name, device.type)

"""`nmt average`: the parameter average of several checkpoints (Vaswani et al. 2017, sec. 6.1).

    average_checkpoints(last_checkpoints("exp/tf", 5), "exp/tf/checkpoint_avg5.pt")

Floating-point tensors are averaged in float64 and cast back; other tensors (counters) are
taken from the last checkpoint. The result keeps the last checkpoint's config and vocabulary
and drops the optimizer state, so it is for translation, not for `--resume`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from speechlang import log
from speechlang.accel import load_checkpoint, save_checkpoint
from speechlang.errors import ConfigError, DataError, FormatError

RUN_STATE = ("format", "format_version", "speechlang_version", "argv", "optimizer", "scheduler",
             "scaler", "rng", "trainer")


def last_checkpoints(run_dir: str | os.PathLike, n: int) -> list[Path]:
    """The last `n` per-epoch checkpoints (checkpoint_epochK.pt, by K) of a training run."""
    d = Path(run_dir)
    if not d.is_dir():
        raise DataError(f"{d}: no such training directory")
    found = sorted((int(m.group(1)), p) for p in d.iterdir()
                   if (m := re.fullmatch(r"checkpoint_epoch(\d+)\.pt", p.name)))
    if not found:
        raise DataError(f"{d}: no checkpoint_epochN.pt files; train with --keep-epochs N to keep them")
    if len(found) < n:
        log.warn(f"{d}: only {len(found)} epoch checkpoints, averaging those (asked for {n})")
    return [p for _, p in found[-n:]]


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of float tensors of identical names and shapes."""
    keys = list(states[0])
    out = {}
    for k in keys:
        ts = [s.get(k) for s in states]
        if any(t is None or t.shape != ts[0].shape for t in ts):
            raise FormatError(f"parameter {k!r} is missing or differs in shape between the checkpoints; "
                              "average only checkpoints of one training run")
        if ts[0].is_floating_point():
            out[k] = (sum(t.double() for t in ts) / len(ts)).to(ts[0].dtype)
        else:
            out[k] = ts[-1].clone()
    for s in states[1:]:
        if set(s) != set(keys):
            raise FormatError("the checkpoints hold different parameters; average only one training run's")
    return out


def average_checkpoints(paths: list[str | os.PathLike], output: str | os.PathLike) -> dict:
    """Write the average of `paths` to `output`; returns {"inputs": [...], "output": ...}."""
    if not paths:
        raise ConfigError("no checkpoints to average")
    cks = [load_checkpoint(p) for p in paths]
    for p, ck in zip(paths, cks, strict=True):
        if "model" not in ck:
            raise FormatError(f"{p}: checkpoint without model parameters")
        if ck.get("model_config") != cks[-1].get("model_config"):
            raise FormatError(f"{p}: a different model configuration than {paths[-1]}; "
                              "average only checkpoints of one training run")
    record = {k: v for k, v in cks[-1].items() if k not in RUN_STATE}
    record["model"] = average_state_dicts([ck["model"] for ck in cks])
    record["averaged"] = [str(p) for p in paths]
    save_checkpoint(output, record)
    return {"inputs": [str(p) for p in paths], "output": str(output)}

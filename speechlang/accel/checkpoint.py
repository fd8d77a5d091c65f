"""Checkpoints: one torch file holding everything a run needs to continue bit for bit.

Layout (a dict): format, speechlang_version, argv, config, model, optimizer, scheduler,
scaler, step, epoch, batch_in_epoch, rng, trainer (counters, best metric, history) and
`extra` (the caller's vocabulary, alignments or other metadata). Files are written
atomically and loaded with `weights_only=True`, so a checkpoint cannot run code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from speechlang import __version__
from speechlang.errors import FormatError
from speechlang.io import atomic_output

FORMAT = "speechlang-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write `state` plus format header, version and argv to `path` atomically."""
    record = {"format": FORMAT, "format_version": FORMAT_VERSION,
              "speechlang_version": __version__, "argv": list(sys.argv), **state}
    with atomic_output(path, "wb") as f:
        torch.save(record, f)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint written by `save_checkpoint`; FormatError names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such checkpoint file")
    try:
        record = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for corrupt zip/pickle data
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FormatError(f"{p}: not a readable speechlang checkpoint (truncated or corrupt?): {msg}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise FormatError(f"{p}: not a speechlang checkpoint (no '{FORMAT}' header)")
    if not isinstance(record.get("format_version", 0), int) or record.get("format_version", 0) > FORMAT_VERSION:
        raise FormatError(
            f"{p}: checkpoint format {record['format_version']} is newer than this speechlang "
            f"({FORMAT_VERSION}); upgrade speechlang"
        )
    return record

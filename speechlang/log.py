"""Messages, progress and metrics on stderr (stdout carries data only).

Verbosity is process-wide: `set_quiet(True)` (the CLI's `--quiet`, and every rank but 0 in
distributed runs) silences info messages and progress; warnings are always printed.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    _state["quiet"] = bool(quiet)


def is_quiet() -> bool:
    return _state["quiet"] or os.environ.get("RANK", "0") != "0"


def info(msg: str) -> None:
    """An informational line on stderr, unless quiet."""
    if not is_quiet():
        print(f"speechlang: {msg}", file=sys.stderr, flush=True)


def warn(msg: str) -> None:
    """A warning line on stderr (printed even when quiet, on rank 0 only)."""
    if os.environ.get("RANK", "0") == "0":
        print(f"speechlang: warning: {msg}", file=sys.stderr, flush=True)


def _fmt_rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.1f}"


class Progress:
    """A one-line progress display on stderr, shown only on a TTY and when not quiet.

    `update(n, **fields)` adds `n` units of work; fields (loss=..., lr=...) are shown beside
    the rate in units per second.
    """

    def __init__(self, desc: str, total: int | None = None, unit: str = "it", interval: float = 0.25):
        self.desc, self.total, self.unit, self.interval = desc, total, unit, interval
        self.n = 0
        self.start = self._last = time.perf_counter()
        self.enabled = not is_quiet() and sys.stderr.isatty()
        self.fields: dict = {}

    def update(self, n: int = 1, **fields) -> None:
        self.n += n
        self.fields.update(fields)
        now = time.perf_counter()
        if self.enabled and now - self._last >= self.interval:
            self._last = now
            self._render(now)

    @property
    def rate(self) -> float:
        """Units per second since the start."""
        return self.n / max(time.perf_counter() - self.start, 1e-9)

    def _render(self, now: float) -> None:
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        pct = f" {100 * self.n / self.total:5.1f}%" if self.total else ""
        extra = " ".join(
            f"{k} {v:.4g}" if isinstance(v, float) and math.isfinite(v) else f"{k} {v}"
            for k, v in self.fields.items()
        )
        rate = _fmt_rate(self.n / max(now - self.start, 1e-9))
        sys.stderr.write(f"\r{self.desc}:{pct} {done} {self.unit} {rate} {self.unit}/s {extra}\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._render(time.perf_counter())
            sys.stderr.write("\n")
            sys.stderr.flush()


class MetricsWriter:
    """Appends one JSON object per line to a file (or does nothing when path is None)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None

    def write(self, record: dict) -> None:
        if self.path is None or os.environ.get("RANK", "0") != "0":
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

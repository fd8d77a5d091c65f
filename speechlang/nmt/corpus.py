"""Parallel text: line-aligned source/target files read as pairs, with length and ratio filters.

    for i, src, tgt in iter_pairs("train.en", "train.es", stats): ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from speechlang.errors import DataError
from speechlang.io import display_name, iter_lines


@dataclass
class PairStats:
    """Counts over one split, reported by `prepare` and stored in its metadata."""

    lines: int = 0
    empty: int = 0            # pairs with an empty (or blank) side: skipped
    first_empty: int = 0      # 1-based line number of the first one (0: none)
    too_long: int = 0         # pairs with a side over the length limit (subword tokens)
    bad_ratio: int = 0        # pairs whose length ratio exceeds the limit
    kept: int = 0
    extra: dict = field(default_factory=dict)


def iter_pairs(src: str | os.PathLike, tgt: str | os.PathLike,
               stats: PairStats | None = None) -> Iterator[tuple[int, str, str]]:
    """Yield (line number, source, target) for the non-empty pairs of two line-aligned files.

    Raises DataError naming the first line that one file has and the other lacks.
    Empty pairs (either side blank) are skipped and counted in `stats`.
    """
    stats = stats if stats is not None else PairStats()
    a, b = iter_lines(src), iter_lines(tgt)
    n = 0
    while True:
        x, y = next(a, None), next(b, None)
        if x is None and y is None:
            break
        n += 1
        if x is None or y is None:
            longer, shorter = (tgt, src) if x is None else (src, tgt)
            raise DataError(
                f"{display_name(shorter)} has {n - 1} lines but {display_name(longer)}:{n} goes on: "
                f"the first mismatching line is {n}; source and target files must be line-aligned")
        stats.lines = n
        if not x.strip() or not y.strip():
            stats.empty += 1
            stats.first_empty = stats.first_empty or n
            continue
        yield n, x.strip(), y.strip()


def keep_pair(n_src: int, n_tgt: int, max_len: int, max_ratio: float, stats: PairStats) -> bool:
    """Length filter (each side 1..max_len tokens) and ratio filter (longer/shorter <= max_ratio)."""
    if n_src < 1 or n_tgt < 1:
        stats.empty += 1
        return False
    if max_len and (n_src > max_len or n_tgt > max_len):
        stats.too_long += 1
        return False
    if max_ratio and max(n_src, n_tgt) / min(n_src, n_tgt) > max_ratio:
        stats.bad_ratio += 1
        return False
    stats.kept += 1
    return True

"""From padded N-gram counts to per-order n-gram tables with raw and Kneser-Ney adjusted counts.

    tables = build_tables(counts); d = mkn_discounts(count_of_counts(tables[n - 1].adjusted))

Input: unique `<s>`-padded N-grams in suffix order with counts (`count.py`).
Output: for each order n a table of the n-grams that occur in the text (no `<s>` after the
first position), in suffix order, with
  count     raw occurrences,
  adjusted  Kneser-Ney adjusted count (Chen & Goodman 1998, sec. 4.1.3; KenLM
            `adjust_counts.cc`): for n < N the number of distinct words that precede the
            n-gram (`<s>` counts as one), except n-grams starting with `<s>`, which nothing
            can precede and which keep their raw count; for n = N the raw count,
  suffix    index of (w2..wn) in the order n-1 table,
  prefix    index of the context (w1..wn-1) in the order n-1 table.
The unigram table holds the whole vocabulary, indexed by word id (`<unk>` and `<s>` with 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechlang.errors import ConfigError
from speechlang.ngram import _kernels as K
from speechlang.ngram.count import BOS_ID, NgramCounts


@dataclass
class OrderTable:
    """The n-grams of one order n: words (M, n) int32 in suffix order; count, adjusted (M,)
    int64; suffix, prefix (M,) int64 indices into the order n-1 table (None for n = 1)."""

    words: np.ndarray
    count: np.ndarray
    adjusted: np.ndarray
    suffix: np.ndarray | None = None
    prefix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.count)


def build_tables(counts: NgramCounts) -> list[OrderTable]:
    """Per-order tables (index 0 = unigrams) from the padded N-gram counts.

    One pass from order N down: the padded (n-1)-grams are the distinct suffixes of the padded
    n-grams (adjacent in suffix order), with the summed counts and the number of distinct left
    extensions; the real n-grams are the padded ones without `<s>` after the first word. A
    second pass up finds each context's index in the order below.
    """
    order, vocab_size = counts.order, len(counts.vocab)
    p_rows = np.ascontiguousarray(counts.grams, dtype=np.int32)
    p_raw = np.ascontiguousarray(counts.counts, dtype=np.int64)
    p_ext = None  # number of distinct left extensions of each padded n-gram (None at order N)
    tables: list[OrderTable | None] = [None] * order
    for n in range(order, 1, -1):
        group, _ = K.suffix_groups(p_rows, 1)
        starts = np.flatnonzero(np.diff(group, prepend=-1))
        low_rows = np.ascontiguousarray(p_rows[starts, 1:])
        low_raw = np.add.reduceat(p_raw, starts) if len(starts) else np.zeros(0, np.int64)
        low_ext = np.diff(np.append(starts, len(group)))
        del starts
        keep = (p_rows[:, 1:] != BOS_ID).all(axis=1)
        if n - 1 == 1:
            low_index = low_rows[:, 0].astype(np.int64)  # unigram table = vocabulary by id
        else:
            low_index = np.cumsum((low_rows[:, 1:] != BOS_ID).all(axis=1)) - 1
        all_kept = bool(keep.all())
        words = p_rows if all_kept else np.ascontiguousarray(p_rows[keep])
        count = p_raw if all_kept else p_raw[keep]
        if n == order:
            adjusted = count
        else:
            ext = p_ext if all_kept else p_ext[keep]
            adjusted = np.where(words[:, 0] == BOS_ID, count, ext)
        suffix = low_index[group if all_kept else group[keep]]
        tables[n - 1] = OrderTable(words, count, adjusted, suffix)
        del group, keep, low_index
        p_rows, p_raw, p_ext = low_rows, low_raw, low_ext
    count = np.zeros(vocab_size, np.int64)
    adjusted = np.zeros(vocab_size, np.int64)
    w = p_rows[:, 0]
    count[w] = p_raw
    adjusted[w] = p_raw if order == 1 else p_ext
    tables[0] = OrderTable(np.arange(vocab_size, dtype=np.int32)[:, None], count, adjusted)
    for n in range(2, order + 1):
        t, lower = tables[n - 1], tables[n - 2]
        if n == 2:
            t.prefix = t.words[:, 0].astype(np.int64)
            continue
        # the context (w1..wn-1) has first word w1 and suffix (w2..wn-1), the context of this
        # n-gram's suffix; the order n-1 table is sorted by (suffix index, first word)
        lower_keys = lower.suffix * vocab_size + lower.words[:, 0]
        query = lower.prefix[t.suffix] * vocab_size + t.words[:, 0]
        t.prefix = np.searchsorted(lower_keys, query)
        if len(t.prefix) and (t.prefix.max() >= len(lower_keys) or (lower_keys[t.prefix] != query).any()):
            raise AssertionError("an n-gram context is missing from the lower order")
        del lower_keys, query
    return tables


def count_of_counts(adjusted: np.ndarray, kmax: int = 4) -> np.ndarray:
    """n_k = number of n-grams with count k, for k = 0..kmax: (kmax + 1,) int64."""
    return np.bincount(np.minimum(adjusted, kmax + 1), minlength=kmax + 2)[: kmax + 1]


def mkn_discounts(n: np.ndarray) -> tuple[float, float, float] | None:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from count-of-counts n[1..4].

    Chen & Goodman (1998) eq. (26), in float32 as KenLM: Y = n1 / (n1 + 2 n2),
    Dj = j - (j + 1) Y n_{j+1} / n_j. None when some n_j is 0 or a discount falls outside
    [0, j] (small or artificial data).
    """
    if (n[1:4] == 0).any():
        return None
    f = np.float32
    y = f(n[1]) / f(f(n[1]) + f(2.0) * f(n[2]))
    out = []
    for j in (1, 2, 3):
        d = f(j) - f(j + 1) * y * f(n[j + 1]) / f(n[j])
        if not (0.0 <= d <= j):
            return None
        out.append(float(d))
    return out[0], out[1], out[2]


def kn_discount(n: np.ndarray) -> float | None:
    """The single Kneser-Ney discount D = n1 / (n1 + 2 n2) (Ney et al. 1994); None if undefined."""
    if n[1] == 0 or n[2] == 0:
        return None
    return float(n[1] / (n[1] + 2.0 * n[2]))


def good_turing_ratios(n: np.ndarray, k: int) -> tuple[np.ndarray, list[int]]:
    """Katz's discount ratios d_r for r = 0..k (Katz 1987; Chen & Goodman eq. (6)).

    d_r = (r*/r - (k+1) n_{k+1} / n_1) / (1 - (k+1) n_{k+1} / n_1), r* = (r+1) n_{r+1} / n_r;
    counts above k are not discounted (d = 1). Returns (d, the r whose ratio was out of (0, 1]
    and was set to 1).
    """
    d = np.ones(k + 1)
    bad: list[int] = []
    if k < 1 or n[1] == 0:
        return d, list(range(1, k + 1))
    common = (k + 1) * n[k + 1] / n[1]
    for r in range(1, k + 1):
        if n[r] == 0 or common >= 1.0:
            bad.append(r)
            continue
        r_star = (r + 1) * n[r + 1] / n[r]
        val = (r_star / r - common) / (1.0 - common)
        if not (0.0 < val <= 1.0):
            bad.append(r)
            continue
        d[r] = val
    return d, bad


def parse_cutoffs(values: list[int] | tuple[int, ...], order: int) -> tuple[int, ...]:
    """Count cut-offs per order (n-grams with count <= t_n are dropped), lmplz's `--prune` rules."""
    t = tuple(int(x) for x in values)
    if not t:
        return (0,) * order
    if len(t) > order:
        raise ConfigError(f"--prune gives thresholds for orders 1 through {len(t)} but the model "
                          f"only has order {order}")
    if t[0] != 0:
        raise ConfigError("--prune: unigrams cannot be pruned; the first threshold must be 0")
    if any(x < 0 for x in t) or any(b < a for a, b in zip(t, t[1:], strict=False)):
        raise ConfigError("--prune thresholds must be >= 0 and non-decreasing; otherwise "
                          "substrings would be removed while their extensions stay")
    return t + (t[-1],) * (order - len(t))

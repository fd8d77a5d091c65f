"""Negative sampling noise distribution: the unigram distribution raised to 3/4.

    prob, alias = noise_alias(vocab.counts)            # Walker's alias method, (V,) each
    i = int(u * V); noise = i if u * V - i < prob[i] else alias[i]    # u uniform in [0, 1)

word2vec.c fills a table of 1e8 word ids with count**0.75 shares and draws a random slot;
that table (400 MB, or 40 MB at 1e7 slots) misses the cache on every draw, which costs more
than the dot products. The alias tables hold 12 bytes per word and sample the same
distribution exactly, in O(1) (Walker 1977; Vose 1991).
"""

from __future__ import annotations

import numpy as np

from speechlang.errors import ConfigError

POWER = 0.75


def noise_distribution(counts, power: float = POWER) -> np.ndarray:
    """(V,) float64 probabilities proportional to count**power."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or (counts <= 0).any():
        raise ConfigError("noise distribution: counts must be a non-empty vector of positive numbers")
    p = counts**power
    return p / p.sum()


def noise_alias(counts, power: float = POWER) -> tuple[np.ndarray, np.ndarray]:
    """Alias tables (prob (V,) float64, alias (V,) int32) of count**power (Vose's method):
    column i is word i with probability prob[i], else word alias[i]."""
    p = noise_distribution(counts, power) * len(counts)
    v = p.size
    prob = np.ones(v, dtype=np.float64)
    alias = np.arange(v, dtype=np.int32)
    small = [i for i in range(v) if p[i] < 1.0]
    large = [i for i in range(v) if p[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = p[s], g
        p[g] -= 1.0 - p[s]
        (small if p[g] < 1.0 else large).append(g)
    # what is left has p == 1 up to rounding: prob stays 1, alias itself
    return prob, alias


def alias_probabilities(prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """The distribution the alias tables sample (for checks): (V,) float64."""
    v = prob.size
    out = prob / v
    np.add.at(out, alias, (1.0 - prob) / v)
    return out

"""Negative sampling: the alias tables and the kernel's draws follow count**0.75."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from speechlang.w2v.negative import alias_probabilities, noise_alias
from speechlang.w2v.skipgram import draw_noise


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=300))
def test_alias_tables_encode_count_power(counts):
    prob, alias = noise_alias(counts)
    p = np.asarray(counts, float) ** 0.75
    p /= p.sum()
    assert ((prob >= 0) & (prob <= 1)).all()
    np.testing.assert_allclose(alias_probabilities(prob, alias), p, rtol=1e-9, atol=1e-12)


def test_lcg_draws_follow_count_power():
    counts = np.array([1000, 300, 100, 30, 10, 3, 1])
    noise = noise_alias(counts)
    n = 400_000
    draws = draw_noise(noise, n, seed=3)
    p = counts**0.75 / (counts**0.75).sum()
    freq = np.bincount(draws, minlength=counts.size) / n
    sigma = np.sqrt(p * (1 - p) / n)
    assert (np.abs(freq - p) < 5 * sigma).all(), (freq, p)
    # clearly not the raw unigram distribution
    q = counts / counts.sum()
    assert np.abs(freq - q).max() > 20 * sigma.max()
    # a different seed draws a different stream
    assert (draw_noise(noise, 1000, seed=4) != draws[:1000]).any()

"""Small corpora for the n-gram tests (generated, seeded)."""

from __future__ import annotations

import random

import pytest


def zipf_corpus(n_lines: int, vocab: int, seed: int, max_len: int = 12) -> list[str]:
    """Sentences of Zipf-distributed words w0..w{vocab-1}, so count-of-counts look like text."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    weights = [1.0 / (i + 1) for i in range(vocab)]
    lines = []
    for _ in range(n_lines):
        k = rng.randint(0, max_len)
        # a little Markov structure: repeat a bigram pattern now and then
        sent = rng.choices(words, weights, k=k)
        if k > 3 and rng.random() < 0.3:
            sent[1:3] = ["w0", "w1"]
        lines.append(" ".join(sent))
    return lines


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return zipf_corpus(400, 60, seed=3)


@pytest.fixture(scope="session")
def tiny_corpus() -> list[str]:
    return zipf_corpus(40, 8, seed=5, max_len=6)


@pytest.fixture(scope="session")
def make_corpus():
    """make_corpus(n_lines, vocab, seed, max_len=12) -> list of sentences."""
    return zipf_corpus

"""Vocabulary: word counts cut at min-count, sorted by frequency, and subsampling probabilities.

    vocab = Vocab.from_counts(words, counts, min_count=5)
    keep = keep_thresholds(vocab.counts, sample=1e-3)   # (V,) uint64, compared with 32-bit draws

Word ids follow word2vec.c: the most frequent word has id 0; ties keep first-seen order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import atomic_output, iter_lines


@dataclass(frozen=True)
class Vocab:
    """words[i] has count counts[i]; counts are sorted in decreasing order."""

    words: list[str]
    counts: np.ndarray  # (V,) int64

    @classmethod
    def from_counts(cls, words: Sequence[str], counts, *, min_count: int = 5,
                    source: str = "the corpus") -> Vocab:
        """Keep words seen at least `min_count` times, most frequent first (stable on ties)."""
        counts = np.asarray(counts, dtype=np.int64)
        order = select_words(counts, min_count, source)
        return cls([words[i] for i in order], counts[order])

    def __len__(self) -> int:
        return len(self.words)

    @property
    def total(self) -> int:
        """Training words: the corpus tokens that are in the vocabulary."""
        return int(self.counts.sum())

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def select_words(counts: np.ndarray, min_count: int, source: str = "the corpus") -> np.ndarray:
    """Indices of the words with count >= min_count, by decreasing count (stable on ties)."""
    if min_count < 1:
        raise ConfigError(f"--min-count must be >= 1, got {min_count}")
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0 or counts.sum() == 0:
        raise DataError(f"{source} holds no words; give a non-empty tokenized text")
    keep = np.flatnonzero(counts >= min_count)
    if keep.size == 0:
        raise DataError(f"--min-count {min_count} removes every word of {source} (the most "
                        f"frequent word occurs {int(counts.max())} times); lower --min-count")
    return keep[np.argsort(-counts[keep], kind="stable")]


def keep_thresholds(counts: np.ndarray, sample: float) -> np.ndarray:
    """Subsampling of frequent words as in word2vec.c: a word of frequency f = count/total is
    kept with probability (sqrt(f / sample) + 1) * sample / f (capped at 1).

    Returns (V,) uint64 thresholds t: keep when t >= a uniform 32-bit draw; t = 2**32 means
    always keep (also for sample == 0, which turns subsampling off).
    """
    if sample < 0:
        raise ConfigError(f"--sample must be >= 0, got {sample}")
    counts = np.asarray(counts, dtype=np.float64)
    if sample == 0:
        return np.full(counts.shape, 2**32, dtype=np.uint64)
    threshold = sample * counts.sum()
    p = (np.sqrt(counts / threshold) + 1) * threshold / counts
    t = np.minimum(p, 1.0) * 2**32
    return np.where(p >= 1.0, 2**32, np.floor(t)).astype(np.uint64)


def write_vocab(vocab: Vocab, path) -> None:
    """`word count` per line (word2vec.c's -save-vocab format)."""
    with atomic_output(path, "w") as f:
        for w, c in zip(vocab.words, vocab.counts.tolist(), strict=True):
            f.write(f"{w} {c}\n")


def read_vocab(path) -> Vocab:
    """Read a `word count` file written by `write_vocab` (or word2vec.c)."""
    words, counts = [], []
    for lineno, line in enumerate(iter_lines(path), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit():
            raise FormatError(f"{path}:{lineno}: expected `word count`, got {line[:60]!r}")
        words.append(parts[0])
        counts.append(int(parts[1]))
    return Vocab.from_counts(words, counts, min_count=1, source=str(path))

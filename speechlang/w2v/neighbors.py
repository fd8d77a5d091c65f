"""Nearest neighbours by cosine similarity: `similar WORD` and `analogy a b c`.

    kv = KeyedVectors.load("vectors.bin")
    kv.similar("king", k=10)             # [(word, cosine), ...]
    kv.analogy("man", "king", "woman")   # king - man + woman -> [(word, cosine), ...]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from speechlang.errors import ConfigError, DataError
from speechlang.w2v.vecformat import read_vectors


class KeyedVectors:
    """words (V,) and vectors (V, D) float32, with unit-length rows for cosine queries."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        self.words = list(words)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def load(cls, path: str | os.PathLike | None, *, format: str = "auto") -> KeyedVectors:
        return cls(*read_vectors(path, format=format))

    def row(self, word: str) -> int:
        i = self.index.get(word)
        if i is None:
            hint = ""
            low = word.lower()
            if low != word and low in self.index:
                hint = f"; did you mean {low!r}?"
            raise DataError(f"word {word!r} is not in the vocabulary of {len(self.words)} words{hint}")
        return i

    def most_similar(self, positive: Sequence[str], negative: Sequence[str] = (),
                     k: int = 10) -> list[tuple[str, float]]:
        """The k words nearest to unit(sum(+unit(p)) - sum(unit(n))), query words excluded."""
        if k < 1:
            raise ConfigError(f"-k must be >= 1, got {k}")
        pos = [self.row(w) for w in positive]
        neg = [self.row(w) for w in negative]
        if not pos and not neg:
            raise ConfigError("give at least one query word")
        q = self.unit[pos].sum(axis=0) - self.unit[neg].sum(axis=0)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        scores = self.unit @ q
        scores[pos + neg] = -np.inf
        k = min(k, len(self.words) - len(set(pos + neg)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in top]

    def similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        return self.most_similar([word], k=k)

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[tuple[str, float]]:
        """a : b = c : ?, by 3CosAdd: nearest to unit(b) - unit(a) + unit(c)."""
        return self.most_similar([b, c], [a], k=k)

"""Generating sentences from a back-off model.

    for words in sample(read_arpa("lm.arpa"), n=5, seed=1): print(" ".join(words))

Each word is drawn from the model's full distribution p(. | h) over the vocabulary (computed by
the back-off rule for every word at once), starting after `<s>` and stopping at `</s>` or
`max_words`. `<s>` and `<unk>` are never drawn (the rest is renormalized). One numpy Generator
seeded with `seed` drives the draws, so a seed gives the same sentences on every machine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from speechlang.errors import ConfigError, DataError
from speechlang.ngram.arpa import BOS, EOS, UNK, ArpaLM


class _Children:
    """Per context: the ids of the words seen after it and their probabilities."""

    def __init__(self, lm: ArpaLM):
        self.words = [w for (w,) in lm.ngrams[0] if w not in (BOS, UNK)]
        if EOS not in self.words:
            raise DataError("the model has no </s> unigram, so sentences cannot end")
        self.index = {w: i for i, w in enumerate(self.words)}
        uni = np.array([10.0 ** lm.ngrams[0][(w,)][0] for w in self.words])
        self.unigram = uni
        self.backoff: dict[tuple[str, ...], float] = {}
        kids: dict[tuple[str, ...], list] = defaultdict(list)
        for n in range(2, lm.order + 1):
            for words, (lp, _) in lm.ngrams[n - 1].items():
                i = self.index.get(words[-1])
                if i is not None:
                    kids[words[:-1]].append((i, 10.0 ** lp))
        self.kids = {h: (np.array([i for i, _ in v]), np.array([p for _, p in v]))
                     for h, v in kids.items()}
        for n in range(1, lm.order):
            for words, (_, bo) in lm.ngrams[n - 1].items():
                if bo != 0.0:
                    self.backoff[words] = 10.0 ** bo
        self.order = lm.order

    def distribution(self, history: list[str]) -> np.ndarray:
        p = self.unigram.copy()
        for k in range(1, min(len(history), self.order - 1) + 1):
            h = tuple(history[-k:])
            p *= self.backoff.get(h, 1.0)
            kid = self.kids.get(h)
            if kid is not None:
                p[kid[0]] = kid[1]
        return p


def sample(lm: ArpaLM, n: int, seed: int = 1, max_words: int = 200) -> Iterator[list[str]]:
    """Yield n sentences (lists of words, without `<s>` and `</s>`)."""
    if n < 0:
        raise ConfigError(f"-n must be >= 0, not {n}")
    if max_words < 1:
        raise ConfigError(f"--max-words must be >= 1, not {max_words}")
    kids = _Children(lm)
    rng = np.random.default_rng(seed)
    eos = kids.index[EOS]
    for _ in range(n):
        history, out = [BOS], []
        while len(out) < max_words:
            p = kids.distribution(history)
            total = p.sum()
            if not total > 0:
                break
            i = int(rng.choice(len(p), p=p / total))
            if i == eos:
                break
            out.append(kids.words[i])
            history.append(kids.words[i])
        yield out

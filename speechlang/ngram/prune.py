"""Pruning an existing ARPA model: Stolcke relative-entropy pruning and count cut-offs.

    small = entropy_prune(read_arpa("lm.arpa"), threshold=1e-7)

Entropy pruning (Stolcke 1998, "Entropy-based pruning of backoff language models"): the
n-gram hw is removed when the relative entropy D(p || p') between the model and the model
without it is small; with N(h) = 1 - sum_seen p(v | h), Dn(h) = 1 - sum_seen p(v | h') and
bo'(h) = (N + p(w | h)) / (Dn + p(w | h')),
  D = P(h) [ p(w|h) (log p(w|h) - log bo'(h) p(w|h')) + N(h) (log bo(h) - log bo'(h)) ],
P(h) the model's own probability of the history. As in SRILM, every D is computed on the
unpruned model, an n-gram goes when 10^D - 1 (the relative perplexity increase, logs in base
10) is below the threshold, orders are pruned from the highest down, n-grams that are a
context or suffix of a kept longer n-gram stay, and the backoffs are then recomputed so that
every distribution sums to one.
"""

from __future__ import annotations

import math
from collections import defaultdict

from speechlang.errors import ConfigError
from speechlang.ngram.arpa import BOS, ArpaLM
from speechlang.ngram.query import log10_prob


def _p(x: float) -> float:
    return 10.0 ** x


def history_log10(lm: ArpaLM, h: tuple[str, ...]) -> float:
    """log10 P(h) under the model (a history starting with <s> is conditioned on it)."""
    total, start = 0.0, 0
    if h and h[0] == BOS:
        start = 1
    for i in range(start, len(h)):
        total += log10_prob(lm, h[max(0, i - lm.order + 1):i], h[i])
    return total


def recompute_backoffs(lm: ArpaLM, orders: range | None = None) -> None:
    """Set every backoff so that p(. | h) sums to one over the vocabulary (`<s>` excluded):
    bo(h) = (1 - sum_seen p(w | h)) / (1 - sum_seen p(w | h'))."""
    orders = orders if orders is not None else range(2, lm.order + 1)
    for n in orders:
        seen: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for words, (lp, _) in lm.ngrams[n - 1].items():
            h, w = words[:-1], words[-1]
            acc = seen[h]
            acc[0] += _p(lp)
            acc[1] += _p(log10_prob(lm, h[1:], w))
        table = lm.ngrams[n - 2]
        for h, (lp, _) in list(table.items()):
            if h not in seen:
                table[h] = (lp, 0.0)
                continue
            num, den = 1.0 - seen[h][0], 1.0 - seen[h][1]
            if den <= 1e-12:  # every word is seen after h: nothing is left to back off to
                table[h] = (lp, 0.0)
                continue
            table[h] = (lp, math.log10(num / den) if num > 1e-99 * den else -99.0)


def entropy_prune(lm: ArpaLM, threshold: float) -> ArpaLM:
    """A copy of `lm` without the n-grams (order >= 2) whose removal raises perplexity by a
    relative amount below `threshold` (e.g. 1e-8 .. 1e-6)."""
    if not threshold >= 0:
        raise ConfigError(f"--threshold must be >= 0, not {threshold}")
    out = ArpaLM(lm.order, [dict(t) for t in lm.ngrams])
    # every score is computed on the unpruned model
    marks: list[set] = [set() for _ in range(lm.order)]
    for n in range(lm.order, 1, -1):
        by_ctx: dict[tuple[str, ...], list[tuple[str, float, float]]] = defaultdict(list)
        for words, (lp, _) in lm.ngrams[n - 1].items():
            by_ctx[words[:-1]].append((words[-1], lp, log10_prob(lm, words[1:-1], words[-1])))
        for h, items in by_ctx.items():
            num = 1.0 - math.fsum(_p(lp) for _, lp, _ in items)
            den = 1.0 - math.fsum(_p(lb) for _, _, lb in items)
            bo = lm.ngrams[n - 2].get(h, (0.0, 0.0))[1]
            ph = _p(history_log10(lm, h))
            for w, lp, lb in items:
                p, pb = _p(lp), _p(lb)
                num2, den2 = num + p, den + pb
                if den2 <= 0 or num2 <= 0:
                    continue
                bo2 = math.log10(num2 / den2)
                d = p * (lp - (bo2 + lb)) + max(num, 0.0) * (bo - bo2)
                if 10.0 ** (ph * d) - 1.0 < threshold:
                    marks[n - 1].add(h + (w,))
    # remove top-down, keeping contexts and suffixes of kept longer n-grams
    for n in range(lm.order, 1, -1):
        needed: set = set()
        if n < lm.order:
            for words in out.ngrams[n]:
                needed.add(words[:-1])
                needed.add(words[1:])
        table = out.ngrams[n - 1]
        for words in marks[n - 1]:
            if words not in needed:
                table.pop(words, None)
    recompute_backoffs(out)
    return out


def count_prune(lm: ArpaLM, counts: dict[tuple[str, ...], int], cutoffs: tuple[int, ...]) -> ArpaLM:
    """A copy of `lm` without the n-grams of order n >= 2 whose count is <= cutoffs[n-1]
    (n-grams missing from `counts` count 0), with re-normalized backoffs."""
    if len(cutoffs) > lm.order or (cutoffs and cutoffs[0] != 0) or any(c < 0 for c in cutoffs):
        raise ConfigError("--cutoffs: one threshold per order (at most the model's order), the "
                          "first (unigrams) 0, all >= 0")
    cut = tuple(cutoffs) + (cutoffs[-1] if cutoffs else 0,) * (lm.order - len(cutoffs))
    out = ArpaLM(lm.order, [dict(t) for t in lm.ngrams])
    for n in range(lm.order, 1, -1):
        needed: set = set()
        if n < lm.order:
            for words in out.ngrams[n]:
                needed.add(words[:-1])
                needed.add(words[1:])
        if cut[n - 1] <= 0:
            continue
        table = out.ngrams[n - 1]
        for words in list(table):
            if counts.get(words, 0) <= cut[n - 1] and words not in needed:
                del table[words]
    recompute_backoffs(out)
    return out


def prune_arpa(lm: ArpaLM | str, threshold: float | None = None, counts: str | None = None,
               cutoffs: tuple[int, ...] = ()) -> ArpaLM:
    """Entropy pruning (threshold) and/or count cut-offs (counts file + cutoffs) of a model."""
    from speechlang.ngram.arpa import read_arpa
    from speechlang.ngram.countfile import read_counts

    if threshold is None and not cutoffs:
        raise ConfigError("give --threshold (entropy pruning) and/or --cutoffs with --counts")
    if cutoffs and counts is None:
        raise ConfigError("--cutoffs needs --counts COUNTS (from `speechlang ngram count`)")
    model = read_arpa(lm) if not isinstance(lm, ArpaLM) else lm
    if cutoffs:
        model = count_prune(model, read_counts(counts), tuple(cutoffs))
    if threshold is not None:
        model = entropy_prune(model, threshold)
    return model

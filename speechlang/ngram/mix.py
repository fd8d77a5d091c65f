"""Linear interpolation of several back-off models into one ARPA model; weights by EM.

    lambdas = tune_weights([lm1, lm2], dev_lines); mixed = mix([lm1, lm2], lambdas)

The mixture p(w | h) = sum_k lambda_k p_k(w | h) is written as one back-off model, as SRILM's
static interpolation (`ngram -mix-lm ... -write-lm`): it holds the union of the n-grams with
their mixed probabilities, and each context's backoff is recomputed so that its distribution
sums to one (words outside a component's vocabulary get probability 0 from that component).
The weights maximize the likelihood of a dev text (EM, as SRILM's `compute-best-mix`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from speechlang.errors import ConfigError, DataError
from speechlang.ngram.arpa import BOS, EOS, UNK, ArpaLM
from speechlang.ngram.prune import recompute_backoffs
from speechlang.ngram.query import log10_prob

LOG10_ZERO = -99.0


def _component_p(lm: ArpaLM, context: tuple[str, ...], word: str, union: dict) -> float:
    """p_k(word | context); 0 for a word of the union vocabulary that lm does not know."""
    if (word,) not in lm.ngrams[0] and word in union:
        return 0.0
    return 10.0 ** log10_prob(lm, context, word)


def check_weights(weights: list[float], k: int) -> list[float]:
    w = [float(x) for x in weights]
    if len(w) != k:
        raise ConfigError(f"--weights: {len(w)} weight(s) for {k} models")
    if any(not (x >= 0) for x in w) or sum(w) <= 0:
        raise ConfigError("--weights must be >= 0 and not all 0")
    s = sum(w)
    return [x / s for x in w]


def mix(lms: list[ArpaLM], weights: list[float]) -> ArpaLM:
    """The interpolated model (order = the highest component order)."""
    if len(lms) < 2:
        raise ConfigError("mix needs at least two models")
    lam = check_weights(weights, len(lms))
    order = max(lm.order for lm in lms)
    union_vocab: dict[str, None] = {}
    for lm in lms:
        for (w,) in lm.ngrams[0]:
            union_vocab.setdefault(w, None)
    out = ArpaLM(order)
    for n in range(1, order + 1):
        keys: dict[tuple[str, ...], None] = {}
        for lm in lms:
            if n <= lm.order:
                for k in lm.ngrams[n - 1]:
                    keys.setdefault(k, None)
        table = out.ngrams[n - 1]
        for words in keys:
            if n == 1 and words[0] == BOS:
                table[words] = (0.0, 0.0)
                continue
            p = math.fsum(lk * _component_p(lm, words[:-1], words[-1], union_vocab)
                          for lk, lm in zip(lam, lms, strict=True) if lk > 0)
            table[words] = (math.log10(p) if p > 0 else LOG10_ZERO, 0.0)
    if (UNK,) not in out.ngrams[0]:
        out.ngrams[0][(UNK,)] = (LOG10_ZERO, 0.0)
    recompute_backoffs(out)
    return out


def component_probs(lms: list[ArpaLM], lines: Iterable[str]) -> np.ndarray:
    """p_k of every token (words and </s>) of the lines: (T, K) float64."""
    union: dict[str, None] = {}
    for lm in lms:
        for (w,) in lm.ngrams[0]:
            union.setdefault(w, None)
    rows = []
    for line in lines:
        words = line.split()
        hist = [BOS]
        for w in words + [EOS]:
            rows.append([_component_p(lm, tuple(hist[-(lm.order - 1):]) if lm.order > 1 else (),
                                      w, union) for lm in lms])
            hist.append(w)
    if not rows:
        raise DataError("the dev text for --tune-on is empty")
    return np.asarray(rows)


def tune_weights(lms: list[ArpaLM], dev_lines: Iterable[str], max_iter: int = 200,
                 tol: float = 1e-7) -> tuple[list[float], float]:
    """EM weights maximizing dev likelihood; returns (weights, dev perplexity of the mixture)."""
    p = component_probs(lms, dev_lines)
    p = p[(p > 0).any(axis=1)]
    k = p.shape[1]
    lam = np.full(k, 1.0 / k)
    for _ in range(max_iter):
        mixp = p @ lam
        post = p * lam / mixp[:, None]
        new = post.mean(axis=0)
        done = np.abs(new - lam).max() < tol
        lam = new
        if done:
            break
    ppl = float(10.0 ** (-np.log10(p @ lam).mean()))
    return [float(x) for x in lam], ppl


def mix_files(paths: list[str], weights: list[float] | None, tune_on: str | None, output) -> list[float]:
    """Read the models, pick the weights (given, EM on `tune_on`, or uniform), write the mixture."""
    from speechlang import log
    from speechlang.io import display_name, iter_lines
    from speechlang.ngram.arpa import read_arpa, write_arpa

    if len(paths) < 2:
        raise ConfigError("mix needs at least two models")
    if weights is not None and tune_on is not None:
        raise ConfigError("give either --weights or --tune-on, not both")
    lms = [read_arpa(p) for p in paths]
    if tune_on is not None:
        dev = list(iter_lines(tune_on))
        if not dev:
            raise DataError(f"{display_name(tune_on)}: the dev text for --tune-on is empty")
        weights, ppl = tune_weights(lms, dev)
        log.info("EM weights " + " ".join(f"{w:.4f}" for w in weights) + f"; dev perplexity {ppl:.3f}")
    elif weights is None:
        weights = [1.0] * len(lms)
    weights = check_weights(weights, len(lms))
    write_arpa(mix(lms, weights), output)
    return weights

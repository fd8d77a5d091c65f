"""Entropy pruning and count cut-offs of ARPA models, linear mixing with EM weights, sampling."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from speechlang.errors import ConfigError
from speechlang.ngram import train
from speechlang.ngram.arpa import ArpaLM
from speechlang.ngram.mix import component_probs, mix, tune_weights
from speechlang.ngram.prune import count_prune, entropy_prune, history_log10, recompute_backoffs
from speechlang.ngram.query import log10_prob, perplexity, score_sentence
from speechlang.ngram.sample import sample


def sums(lm):
    vocab = [w for (w,) in lm.ngrams[0] if w != "<s>"]
    for n in range(lm.order - 1):
        for h in lm.ngrams[n]:
            if h[-1] != "</s>":
                yield math.fsum(10.0 ** log10_prob(lm, h, w) for w in vocab)


def test_entropy_prune_shrinks_and_stays_normalized(corpus):
    lm = train(corpus, order=3).to_arpa()
    kept0 = entropy_prune(lm, 0.0)
    assert kept0.counts() == lm.counts()  # nothing changes perplexity by < 0
    small = entropy_prune(lm, 1e-4)
    smaller = entropy_prune(lm, 1e-3)
    assert smaller.counts()[2] < small.counts()[2] < lm.counts()[2]
    assert small.counts()[0] == lm.counts()[0]
    for s in sums(small):
        assert s == pytest.approx(1.0, abs=1e-6)
    # contexts of kept trigrams are kept
    for g in small.ngrams[2]:
        assert g[:2] in small.ngrams[1]


def test_entropy_prune_removes_the_least_costly(corpus):
    # brute force: removing one trigram by hand and renormalizing changes the corpus-weighted
    # relative entropy by D; the pruned set must be exactly the trigrams with 10^D - 1 < t
    lm = train(corpus[:60], order=3).to_arpa()
    t = 2e-4
    pruned = entropy_prune(lm, t)
    vocab = [w for (w,) in lm.ngrams[0] if w != "<s>"]
    removed = set(lm.ngrams[2]) - set(pruned.ngrams[2])
    assert removed
    for g in list(lm.ngrams[2])[:40]:
        one = ArpaLM(3, [dict(x) for x in lm.ngrams])
        del one.ngrams[2][g]
        recompute_backoffs(one)
        h = g[:2]
        d = math.fsum(10 ** log10_prob(lm, h, w) * (log10_prob(lm, h, w) - log10_prob(one, h, w))
                      for w in vocab)
        d *= 10 ** history_log10(lm, h)
        assert (10 ** d - 1 < t) == (g in removed), g


def test_count_prune(corpus):
    from speechlang.ngram.count import CountConfig, count_ngrams

    lm = train(corpus, order=3).to_arpa()
    c = count_ngrams(corpus, CountConfig(order=3))
    from speechlang.ngram.adjust import build_tables

    counts = {}
    for t in build_tables(c):
        for row, k in zip(t.words.tolist(), t.count.tolist(), strict=True):
            counts[tuple(c.vocab[i] for i in row)] = k
    out = count_prune(lm, counts, (0, 1, 1))
    assert all(counts[g] > 1 or any(g == x[:2] for x in out.ngrams[2]) for g in out.ngrams[1])
    assert all(counts[g] > 1 for g in out.ngrams[2])
    for s in sums(out):
        assert s == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ConfigError):
        count_prune(lm, counts, (1, 1))


def test_mix_probabilities_and_normalization(make_corpus):
    a = train(make_corpus(200, 30, seed=1), order=2).to_arpa()
    b = train(make_corpus(200, 40, seed=2), order=3, smoothing="wb").to_arpa()
    m = mix([a, b], [0.3, 0.7])
    assert m.order == 3
    # a seen n-gram's probability is the mixture of the components
    g = next(iter(a.ngrams[1]))
    pa = 10 ** log10_prob(a, g[:1], g[1])
    pb = 10 ** log10_prob(b, g[:1], g[1]) if (g[1],) in b.ngrams[0] else 0.0
    assert 10 ** m.ngrams[1][g][0] == pytest.approx(0.3 * pa + 0.7 * pb, rel=1e-9)
    for s in sums(m):
        assert s == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ConfigError):
        mix([a, b], [0.5])


def test_em_weights_maximize_dev_likelihood(make_corpus):
    dev = make_corpus(80, 30, seed=1)
    a = train(make_corpus(300, 30, seed=1), order=2).to_arpa()  # same distribution as dev
    b = train(make_corpus(300, 30, seed=9, max_len=3), order=2, smoothing="addk").to_arpa()
    w, ppl = tune_weights([a, b], dev)
    assert w[0] > w[1] and sum(w) == pytest.approx(1.0)
    p = component_probs([a, b], dev)

    def ll(lam):
        return np.log(p @ np.array([lam, 1 - lam])).sum()

    best = ll(w[0])
    for lam in (w[0] - 0.05, w[0] + 0.05, 0.5, 0.99):
        if 0 < lam < 1:
            assert ll(lam) <= best + 1e-9


def test_sample_is_seeded_and_follows_the_model():
    lm = train(["a b c"] * 20, order=3).to_arpa()
    s1 = list(sample(lm, 20, seed=3))
    assert s1 == list(sample(lm, 20, seed=3))
    assert s1 != list(sample(lm, 20, seed=4))
    # most mass goes to the training sentence
    assert Counter(" ".join(s) for s in s1).most_common(1)[0][0] == "a b c"
    assert all("<unk>" not in s and "<s>" not in s for s in s1)


def test_sample_bigram_frequencies(corpus):
    lm = train(corpus, order=2, smoothing="wb").to_arpa()
    sents = list(sample(lm, 400, seed=1))
    first = Counter(s[0] if s else "</s>" for s in sents)
    vocab = [w for (w,) in lm.ngrams[0] if w not in ("<s>", "<unk>")]
    p = np.array([10 ** log10_prob(lm, ("<s>",), w) for w in vocab])
    p /= p.sum()
    # the most likely first word is drawn about as often as the model says
    i = int(p.argmax())
    assert abs(first[vocab[i]] / 400 - p[i]) < 4 * math.sqrt(p[i] * (1 - p[i]) / 400)


def test_perplexity_matches_sentence_scores(corpus):
    lm = train(corpus, order=3).to_arpa()
    scores = [score_sentence(lm, s.split()) for s in corpus[:20]]
    r = perplexity(scores)
    assert r.tokens == sum(len(s.split()) + 1 for s in corpus[:20])
    assert r.ppl == pytest.approx(10 ** (-sum(s.total for s in scores) / r.tokens))

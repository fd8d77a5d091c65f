"""Estimation: MKN against a brute-force lmplz-style implementation, hand-checked discounts,
normalization of every method and form, kenlm parity of the ARPA files written."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import kenlm
import numpy as np
import pytest

from speechlang.errors import ConfigError
from speechlang.ngram import train
from speechlang.ngram.adjust import count_of_counts, mkn_discounts
from speechlang.ngram.arpa import read_arpa
from speechlang.ngram.estimate import SMOOTHING
from speechlang.ngram.query import evaluate, log10_prob


def raw_counts(lines, order):
    counts = [Counter() for _ in range(order)]
    vocab = ["<unk>", "<s>", "</s>"]
    for line in lines:
        for w in line.split():
            if w not in vocab:
                vocab.append(w)
        toks = ["<s>"] + line.split() + ["</s>"]
        for i in range(1, len(toks)):
            for n in range(1, order + 1):
                if i - n + 1 >= 0:
                    counts[n - 1][tuple(toks[i - n + 1:i + 1])] += 1
    return counts, vocab


def brute_mkn(lines, order, fallback=(0.5, 1.0, 1.5)):
    """Interpolated modified Kneser-Ney written out from Chen & Goodman and lmplz's rules:
    {ngram: (log10 p, log10 backoff)} per order."""
    counts, vocab = raw_counts(lines, order)
    adj = [dict() for _ in range(order)]
    adj[order - 1] = dict(counts[order - 1])
    for n in range(order - 1, 0, -1):
        left = defaultdict(set)
        for g in counts[n]:
            left[g[1:]].add(g[0])
        for g, c in counts[n - 1].items():
            adj[n - 1][g] = c if g[0] == "<s>" else len(left[g])
    for w in vocab:
        adj[0].setdefault((w,), 0)
    adj[0][("<s>",)] = 0
    disc = []
    for n in range(order):
        nk = Counter(v for v in adj[n].values())
        ok = all(nk[k] > 0 for k in (1, 2, 3, 4))
        if ok:
            y = nk[1] / (nk[1] + 2 * nk[2])
            d = [k - (k + 1) * y * nk[k + 1] / nk[k] for k in (1, 2, 3)]
            ok = all(0 <= d[k - 1] <= k for k in (1, 2, 3))
        disc.append([0.0] + (d if ok else list(fallback)))

    def D(n, a):
        return disc[n - 1][min(a, 3)]

    probs = [dict() for _ in range(order)]
    gamma = [dict() for _ in range(order)]
    total = sum(adj[0].values())
    g0 = sum(D(1, a) for a in adj[0].values()) / total
    for (w,), a in adj[0].items():
        probs[0][(w,)] = (a - D(1, a)) / total + g0 / (len(vocab) - 1)
    for n in range(2, order + 1):
        by_ctx = defaultdict(list)
        for g, a in adj[n - 1].items():
            by_ctx[g[:-1]].append((g, a))
        for h, items in by_ctx.items():
            c = sum(a for _, a in items)
            gamma[n - 2][h] = sum(D(n, a) for _, a in items) / c
            for g, a in items:
                probs[n - 1][g] = (a - D(n, a)) / c + gamma[n - 2][h] * probs[n - 2][g[1:]]
    out = []
    for n in range(order):
        out.append({g: (0.0 if g == ("<s>",) else math.log10(p),
                        math.log10(gamma[n][g]) if g in gamma[n] else 0.0)
                    for g, p in probs[n].items()})
    return out


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_mkn_equals_brute_force(make_corpus, order):
    lines = make_corpus(500, 50, seed=order + 10)
    want = brute_mkn(lines, order)
    got = train(lines, order=order, smoothing="mkn").to_arpa()
    for n in range(order):
        assert set(got.ngrams[n]) == set(want[n])
        for g, (p, b) in want[n].items():
            # discounts are float32, as in lmplz
            assert got.ngrams[n][g][0] == pytest.approx(p, abs=1e-6), g
            assert got.ngrams[n][g][1] == pytest.approx(b, abs=1e-6), g


def test_hand_checked_discounts():
    # adjusted count-of-counts n1..n4 = 10, 4, 2, 1:
    # Y = 10 / 18; D1 = 1 - 2 Y 4/10; D2 = 2 - 3 Y 2/4; D3+ = 3 - 4 Y 1/2
    n = np.array([0, 10, 4, 2, 1])
    y = 10 / 18
    assert mkn_discounts(n) == pytest.approx((1 - 2 * y * 0.4, 2 - 3 * y * 0.5, 3 - 4 * y * 0.5), rel=1e-6)
    assert mkn_discounts(np.array([0, 10, 0, 2, 1])) is None
    assert list(count_of_counts(np.array([1, 1, 2, 5, 9, 3, 4]))) == [0, 2, 1, 1, 1]  # 5, 9: > 4


def test_tiny_corpus_counts_and_discounts():
    # "a b" x3, "a c" x1: adjusted unigram counts (distinct left words): a 1 (<s>), b 1, c 1,
    # </s> 2 (b, c); bigrams keep raw counts: <s> a 4, a b 3, a c 1, b </s> 3, c </s> 1
    model = train(["a b", "a b", "a b", "a c"], order=2, smoothing="mkn")
    lm = model.to_arpa()
    # bigram n_k = {1: 2, 3: 2, 4: 1}: n2 = 0, so the fallback discounts are used
    assert model.est.discounts[1] == (0.5, 1.0, 1.5)
    # p(b | a) = (3 - 1.5) / 4 + gamma(a) p(b), gamma(a) = (1.5 + 0.5) / 4
    # unigrams: adjusted a=1 b=1 c=1 </s>=2, total 5, fallback discounts; uniform over the
    # 5 words that can follow (<unk> </s> a b c)
    vocab = ["<unk>", "</s>", "a", "b", "c"]
    g0 = (0.5 * 3 + 1.0 * 1) / 5
    uni = {"<unk>": g0 / 5, "</s>": (2 - 1.0) / 5 + g0 / 5, "a": 0.5 / 5 + g0 / 5,
           "b": 0.5 / 5 + g0 / 5, "c": 0.5 / 5 + g0 / 5}
    assert sum(uni.values()) == pytest.approx(1.0)
    for w in vocab:
        assert lm.ngrams[0][(w,)][0] == pytest.approx(math.log10(uni[w]))
    gamma_a = (1.5 + 0.5) / 4
    assert lm.ngrams[1][("a", "b")][0] == pytest.approx(math.log10(1.5 / 4 + gamma_a * uni["b"]))
    assert lm.ngrams[0][("a",)][1] == pytest.approx(math.log10(gamma_a))


def context_sums(lm):
    vocab = [w for (w,) in lm.ngrams[0] if w != "<s>"]
    contexts = [()] + [g for n in range(lm.order - 1) for g in lm.ngrams[n] if g[-1] != "</s>"]
    for h in contexts:
        yield h, math.fsum(10.0 ** log10_prob(lm, h, w) for w in vocab)


@pytest.mark.parametrize("smoothing", SMOOTHING)
@pytest.mark.parametrize("interpolate", [True, False])
def test_every_context_sums_to_one(tiny_corpus, make_corpus, smoothing, interpolate):
    for lines in (tiny_corpus, make_corpus(150, 25, seed=2)):
        lm = train(lines, order=3, smoothing=smoothing, interpolate=interpolate).to_arpa()
        for h, s in context_sums(lm):
            assert s == pytest.approx(1.0, abs=1e-6), (smoothing, interpolate, h)


@pytest.mark.parametrize("smoothing", SMOOTHING)
def test_count_cutoffs_still_normalized(corpus, smoothing):
    full = train(corpus, order=3, smoothing=smoothing)
    model = train(corpus, order=3, smoothing=smoothing, prune=(0, 1, 1))
    assert model.counts()[1] < full.counts()[1] and model.counts()[0] == full.counts()[0]
    lm = model.to_arpa()
    for _, s in context_sums(lm):
        assert s == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("smoothing", SMOOTHING)
def test_kenlm_loads_and_agrees(tmp_path, corpus, make_corpus, smoothing):
    path = tmp_path / "lm.arpa"
    train(corpus, order=3, smoothing=smoothing).save(str(path))
    test = make_corpus(50, 70, seed=99)  # some words unseen in training: OOVs
    k = kenlm.Model(str(path))
    log10, tokens, oovs = 0.0, 0, 0
    for line in test:
        for prob, _, oov in k.full_scores(line):
            log10 += prob
            tokens += 1
            oovs += oov
    result, _ = evaluate(str(path), test)
    assert result.oovs == oovs > 0 and result.tokens == tokens
    assert result.ppl == pytest.approx(10 ** (-log10 / tokens), rel=1e-4)


def test_api_query_and_save_without_files(corpus):
    model = train(iter(corpus), order=3)
    lm = model.to_arpa()
    assert model.log10_prob(("<s>", "w0"), "w1") == log10_prob(lm, ("<s>", "w0"), "w1")
    assert model.log10_prob((), "never-seen") == lm.ngrams[0][("<unk>",)][0]
    import io

    buf = io.StringIO()
    model.save(buf)
    back = read_arpa(io.StringIO(buf.getvalue()))
    assert back.counts() == model.counts()
    with pytest.raises(ConfigError, match="unknown option"):
        train(corpus, order=3, smoothin="kn")
    with pytest.raises(ConfigError, match="smoothing"):
        train(corpus, order=3, smoothing="good-turing")
    with pytest.raises(ConfigError, match="iterable of sentences"):
        train("a b c", order=2)


def test_one_word_vocabulary_warns_once(capsys):
    model = train(["x x x", "x"], order=3, smoothing="mkn")
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "fallback" in err
    for _, s in context_sums(model.to_arpa()):
        assert s == pytest.approx(1.0, abs=1e-6)

"""The numba skip-gram kernels against torch autograd and a plain-Python reference loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from speechlang.errors import ConfigError
from speechlang.w2v.huffman import huffman_tree
from speechlang.w2v.negative import noise_alias
from speechlang.w2v.skipgram import EpochState, run_parts, sgd_step_hs, sgd_step_ns
from speechlang.w2v.torch_sg import SkipGram, SkipGramConfig
from speechlang.w2v.vocab import keep_thresholds

MASK64 = (1 << 64) - 1


def _tables(v=7, d=6, seed=0):
    rng = np.random.default_rng(seed)
    syn0 = rng.normal(0, 0.5, (v, d)).astype(np.float32)
    syn1 = rng.normal(0, 0.5, (v, d)).astype(np.float32)
    return syn0, syn1


def _autograd_step(syn0, syn1, context, targets, labels, alpha):
    w0 = torch.tensor(syn0, dtype=torch.float64, requires_grad=True)
    w1 = torch.tensor(syn1, dtype=torch.float64, requires_grad=True)
    f = w1[torch.tensor(targets)] @ w0[context]
    sign = 2 * torch.tensor(labels, dtype=torch.float64) - 1
    loss = F.softplus(-sign * f).sum()
    loss.backward()
    return float(loss.detach()), syn0 - alpha * w0.grad.numpy(), syn1 - alpha * w1.grad.numpy()


def test_ns_step_equals_autograd():
    syn0, syn1 = _tables()
    targets, alpha = [2, 5, 0, 6], 0.3  # the word, then three distinct noise words
    loss_ref, new0, new1 = _autograd_step(syn0, syn1, 4, targets, [1, 0, 0, 0], alpha)
    loss = sgd_step_ns(syn0, syn1, 4, targets, alpha)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    np.testing.assert_allclose(syn0, new0, atol=2e-6)
    np.testing.assert_allclose(syn1, new1, atol=2e-6)


def test_hs_step_equals_autograd():
    syn0, syn1 = _tables()
    point, code, alpha = [5, 3, 1], [0, 1, 1], 0.2
    labels = [1 - c for c in code]  # word2vec.c: g = (1 - code - s(f)) * alpha
    loss_ref, new0, new1 = _autograd_step(syn0, syn1, 2, point, labels, alpha)
    loss = sgd_step_hs(syn0, syn1, 2, point, code, alpha)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    np.testing.assert_allclose(syn0, new0, atol=2e-6)
    np.testing.assert_allclose(syn1, new1, atol=2e-6)


def test_torch_model_has_the_same_loss():
    syn0, syn1 = _tables()
    targets = [[2, 5, 0, 6], [1, 3, 3, 4]]
    labels = [[1, 0, 0, 0], [1, 0, 0, 0]]
    model = SkipGram(SkipGramConfig(7, 6, "ns"), syn0)
    with torch.no_grad():
        model.syn1.copy_(torch.from_numpy(syn1))
        got = model(torch.tensor([4, 0]), torch.tensor(targets), torch.tensor(labels, dtype=torch.float32),
                    torch.ones(2, 4))
    for b, ctx in enumerate([4, 0]):
        ref, _, _ = _autograd_step(syn0, syn1, ctx, targets[b], labels[b], 0.0)
        assert float(got[b]) == pytest.approx(ref, rel=1e-5)


def _lcg(r):
    return (r * 25214903917 + 11) & MASK64


def _draw(r, prob, alias):
    n = prob.size
    u = float((r >> 16) & 0xFFFFFFFF) * (n / 4294967296.0)
    i = min(int(u), n - 1)
    return i if u - i < prob[i] else int(alias[i])


def reference_epoch(syn0, syn1, tokens, r, keep, noise, tree, use_hs, window, negative,
                    alpha0, min_alpha, epoch, epochs):
    """word2vec.c's skip-gram loop, written out in Python (float64)."""
    syn0, syn1 = syn0.astype(np.float64), syn1.astype(np.float64)
    pos, end, n_tok = 0, len(tokens), len(tokens)
    loss, pairs = 0.0, 0
    while pos < end:
        alpha = max(alpha0 - (alpha0 - min_alpha) * (epoch + pos / n_tok) / epochs, min_alpha)
        sen = []
        while pos < end:
            w = int(tokens[pos])
            pos += 1
            if w < 0:
                break
            if keep[w] < 2**32:
                r = _lcg(r)
                if keep[w] < ((r >> 16) & 0xFFFFFFFF):
                    continue
            sen.append(w)
        for i, word in enumerate(sen):
            r = _lcg(r)
            b = r % window
            for j in range(max(i - window + b, 0), min(i + window - b + 1, len(sen))):
                if j == i:
                    continue
                c = sen[j]
                if use_hs:
                    n = tree.lengths[word]
                    targets = tree.points[word, :n].tolist()
                    labels = [1 - int(x) for x in tree.codes[word, :n]]
                else:
                    targets, labels = [word], [1]
                    for _ in range(negative):
                        r = _lcg(r)
                        w_noise = _draw(r, *noise)
                        if w_noise != word:
                            targets.append(w_noise)
                            labels.append(0)
                neu1e = np.zeros(syn0.shape[1])
                for t, label in zip(targets, labels, strict=True):
                    f = syn0[c] @ syn1[t]
                    g = (label - 1 / (1 + np.exp(-f))) * alpha
                    loss += np.logaddexp(0, -f if label else f)
                    neu1e += g * syn1[t]
                    syn1[t] += g * syn0[c]
                syn0[c] += neu1e
                pairs += 1
    return syn0, syn1, loss, pairs, r


@pytest.mark.parametrize("use_hs", [False, True])
def test_epoch_kernel_equals_reference_loop(use_hs):
    rng = np.random.default_rng(1)
    v, d = 9, 8
    counts = np.array([40, 25, 20, 12, 9, 6, 4, 3, 2])
    sentences = [rng.choice(v, size=int(n), p=counts / counts.sum()) for n in rng.integers(2, 14, 12)]
    tokens = np.concatenate([np.r_[s, -1] for s in sentences]).astype(np.int32)
    syn0 = ((rng.random((v, d)) - 0.5) / d).astype(np.float32)
    syn1 = rng.normal(0, 0.1, (v - 1 if use_hs else v, d)).astype(np.float32)
    keep = keep_thresholds(counts, 0.02)  # the frequent ids are sometimes dropped
    assert (keep < 2**32).any()
    noise, tree = noise_alias(counts), huffman_tree(counts)
    kw = dict(window=3, negative=4, alpha0=0.1, min_alpha=0.001, epoch=1, epochs=3)
    state = EpochState.new(1, seed=5)
    r0 = int(state.rng[0])
    ref0, ref1, ref_loss, ref_pairs, ref_r = reference_epoch(syn0, syn1, tokens, r0, keep, noise, tree,
                                                              use_hs, **kw)
    n = np.array([tokens.size], np.int64)
    zero = np.zeros(1, np.int64)
    run_parts(syn0, syn1, tokens, zero, n, zero, n, state, keep=keep, noise=noise, tree=tree,
              use_hs=use_hs, **kw)
    assert int(state.rng[0]) == ref_r
    assert int(state.pairs[0]) == ref_pairs
    assert state.loss[0] == pytest.approx(ref_loss, rel=1e-4)
    np.testing.assert_allclose(syn0, ref0, atol=1e-5)
    np.testing.assert_allclose(syn1, ref1, atol=1e-5)


def test_run_parts_rejects_bad_arrays():
    syn0, syn1 = _tables()
    state = EpochState.new(1, 1)
    one = np.ones(1, np.int64)
    with pytest.raises(ConfigError):
        run_parts(syn0.astype(np.float64), syn1, np.zeros(3, np.int32), one * 0, one, one * 0, one, state,
                  keep=np.zeros(7, np.uint64), noise=noise_alias(np.ones(7)), tree=None, use_hs=False,
                  window=2, negative=2, alpha0=0.1, min_alpha=0.0, epoch=0, epochs=1)
    with pytest.raises(ConfigError):
        run_parts(syn0, syn1, np.zeros(3, np.int32), one * 0, one, one * 0, one, state,
                  keep=np.zeros(7, np.uint64), noise=(np.ones(7), np.full(7, 9, np.int32)), tree=None,
                  use_hs=False,
                  window=2, negative=2, alpha0=0.1, min_alpha=0.0, epoch=0, epochs=1)


def test_keep_thresholds_formula():
    counts = np.array([900, 90, 10])
    keep = keep_thresholds(counts, sample=0.01)
    t = 0.01 * 1000
    p = (np.sqrt(counts / t) + 1) * t / counts  # word2vec.c's `ran`
    assert keep[0] == np.floor(p[0] * 2**32)
    assert keep[1] == np.floor(p[1] * 2**32)
    assert keep[2] == 2**32  # p > 1: always kept
    assert (keep_thresholds(counts, 0.0) == 2**32).all()


def test_two_parts_on_one_thread_equal_the_reference_part_by_part():
    """Parts keep their own LCG and learning rate (by position in the part): with one thread
    and part 0's range before part 1's, the kernel equals the reference over each in turn."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        rng = np.random.default_rng(1)
        v, d = 9, 8
        counts = np.array([40, 25, 20, 12, 9, 6, 4, 3, 2])
        sentences = [rng.choice(v, size=int(n), p=counts / counts.sum()) for n in rng.integers(2, 14, 24)]
        tokens = np.concatenate([np.r_[s, -1] for s in sentences]).astype(np.int32)
        cut = int(np.flatnonzero(tokens == -1)[11]) + 1
        syn0 = ((rng.random((v, d)) - 0.5) / d).astype(np.float32)
        syn1 = rng.normal(0, 0.1, (v, d)).astype(np.float32)
        keep, noise = keep_thresholds(counts, 0.02), noise_alias(counts)
        kw = dict(window=3, negative=4, alpha0=0.1, min_alpha=0.001, epoch=1, epochs=3)
        state = EpochState.new(2, seed=5)
        r0, r1 = (int(x) for x in state.rng)
        p0 = reference_epoch(syn0, syn1, tokens[:cut], r0, keep, noise, None, False, **kw)
        p1 = reference_epoch(p0[0], p0[1], tokens[cut:], r1, keep, noise, None, False, **kw)
        starts, ends = np.array([0, cut]), np.array([cut, tokens.size])
        run_parts(syn0, syn1, tokens, starts, ends, starts, ends - starts, state, keep=keep, noise=noise,
                  tree=None, use_hs=False, **kw)
        assert state.pairs.tolist() == [p0[3], p1[3]]
        np.testing.assert_allclose(syn0, p1[0], atol=1e-5)
        np.testing.assert_allclose(syn1, p1[1], atol=1e-5)
    finally:
        numba.set_num_threads(before)

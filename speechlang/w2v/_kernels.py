"""numba kernels of skip-gram training (the only numba code of speechlang.w2v).

Kernels take contiguous arrays and scalars, do no I/O, and carry their random state
explicitly: one word2vec.c LCG (`next_random = next_random * 25214903917 + 11`) per corpus
part, passed in and written back. Public, validating wrappers live in `skipgram.py`.

Threads (Hogwild, Recht et al. 2011): `sg_epoch` runs one corpus part per thread with
`prange`; all threads read and update the shared `syn0`/`syn1` rows without locks, as
word2vec.c and gensim do. With one part the result is exactly reproducible.

Each (center, context) pair is one SGD step on the skip-gram loss with the logistic
function to float32 precision (an interpolated table, not word2vec.c's coarse EXP_TABLE,
and no clipping at |f| > 6), so the step is alpha times the gradient of the loss reported:
    NS: -log s(v_c . u_w) - sum_k log s(-v_c . u_k),  u_k drawn from unigram^0.75
    HS: -sum_j log s((1 - 2 code_j) v_c . u_point_j)  along the Huffman path of w
where v_c = syn0[context], u = syn1 rows, s = the logistic function.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

LCG_MUL = np.uint64(25214903917)
LCG_ADD = np.uint64(11)
SHIFT16 = np.uint64(16)
MASK32 = np.uint64(0xFFFFFFFF)
TWO32 = np.uint64(1 << 32)


@nb.njit(inline="always")
def _lcg(r):
    return r * LCG_MUL + LCG_ADD


# s(x) and -log s(x) tabulated on [-X_MAX, X_MAX] and linearly interpolated: the error is
# below 1e-7 (h^2/8 max|f''| with h = 2 X_MAX / N), under float32 rounding, and a lookup is
# cheaper than exp + log1p per dot product; outside the range both are computed exactly.
X_MAX = 8.0
N_TAB = 8192
_x = np.linspace(-X_MAX, X_MAX, N_TAB + 1)
SIG_TABLE = (1.0 / (1.0 + np.exp(-_x))).astype(np.float32)
NLS_TABLE = np.logaddexp(0.0, -_x).astype(np.float32)  # -log s(x)
SCALE = N_TAB / (2 * X_MAX)


@nb.njit(fastmath=True, inline="always")
def _logistic(f, label):
    """(label - s(f), the loss -log s(f) for label 1 or -log s(-f) for label 0)."""
    if -X_MAX < f < X_MAX:
        u = (f + X_MAX) * SCALE
        i = int(u)
        w = u - i
        sig = SIG_TABLE[i] + w * (SIG_TABLE[i + 1] - SIG_TABLE[i])
        nls = NLS_TABLE[i] + w * (NLS_TABLE[i + 1] - NLS_TABLE[i])
    else:
        e = math.exp(-abs(f))
        sig = 1.0 / (1.0 + e) if f >= 0 else e / (1.0 + e)
        nls = max(-f, 0.0) + math.log1p(e)
    # -log s(-f) = -log s(f) + f
    return label - sig, nls + (1.0 - label) * f


@nb.njit(inline="always")
def _draw(r, prob, alias):
    """A noise word from the alias tables with 32 bits of LCG state r (already advanced)."""
    n = prob.shape[0]
    u = np.float64((r >> SHIFT16) & MASK32) * (n / 4294967296.0)
    i = min(np.int64(u), n - 1)
    return i if u - i < prob[i] else alias[i]


@nb.njit(fastmath=True, inline="always")
def _dot(a, b, dim):
    f = np.float32(0.0)
    for k in range(dim):
        f += a[k] * b[k]
    return f


@nb.njit(fastmath=True, inline="always")
def _axpy(g, x, y, dim):
    """y += g * x (separate loops over 1-D rows vectorize; a fused loop over two rows that
    may alias does not)."""
    for k in range(dim):
        y[k] += g * x[k]


@nb.njit(fastmath=True, inline="always")
def _pair_ns(syn0, syn1neg, l1, targets, n_targets, alpha, neu1e):
    """One SGD step for input row l1 against targets[0] (positive) and targets[1:n] (noise)."""
    dim = syn0.shape[1]
    v = syn0[l1]
    neu1e[:] = 0.0
    loss = 0.0
    for d in range(n_targets):
        u = syn1neg[targets[d]]
        g, lo = _logistic(_dot(v, u, dim), 1.0 if d == 0 else 0.0)
        g = np.float32(g * alpha)
        _axpy(g, u, neu1e, dim)
        _axpy(g, v, u, dim)
        loss += lo
    _axpy(np.float32(1.0), neu1e, v, dim)
    return loss


@nb.njit(fastmath=True, inline="always")
def _pair_hs(syn0, syn1, l1, point, code, length, alpha, neu1e):
    """One SGD step for input row l1 along a Huffman path (inner rows point, bits code)."""
    dim = syn0.shape[1]
    v = syn0[l1]
    neu1e[:] = 0.0
    loss = 0.0
    for d in range(length):
        u = syn1[point[d]]
        g, lo = _logistic(_dot(v, u, dim), 1.0 - code[d])  # word2vec.c: g = (1 - code - s(f)) * alpha
        g = np.float32(g * alpha)
        _axpy(g, u, neu1e, dim)
        _axpy(g, v, u, dim)
        loss += lo
    _axpy(np.float32(1.0), neu1e, v, dim)
    return loss


@nb.njit(parallel=True, fastmath=True, cache=True)
def sg_epoch(syn0, syn1, tokens, starts, ends, bases, lengths_, rng, keep, prob, alias,
             points, codes, code_lengths, use_hs, window, negative, alpha0, min_alpha,
             epoch, epochs, max_sentence, loss_out, pairs_out, words_out):  # pragma: no cover
    """Train on tokens[starts[t]:ends[t]] for every part t in parallel (Hogwild).

    syn0 (V, D) f32, syn1 (rows, D) f32: updated in place. tokens (N,) i32, -1 = sentence end.
    starts/ends/bases/lengths_ (T,) i64: this call's range of each part, and the part's whole
    range in the epoch (for the learning rate). rng (T,) u64: LCG states, written back.
    keep (V,) u64 subsampling thresholds; prob (V,) f64 / alias (V,) i32 the noise
    distribution's alias tables; points/codes (V, L)
    and code_lengths (V,) the Huffman paths. loss_out (T,) f64, pairs_out/words_out (T,) i64
    are incremented. The learning rate falls linearly from alpha0 (start of epoch 0) to
    min_alpha (end of the last epoch) with the position in the part.
    """
    n_parts = starts.shape[0]
    dim = syn0.shape[1]
    win = np.uint64(window)
    for t in nb.prange(n_parts):
        r = rng[t]
        sen = np.empty(max_sentence, np.int32)
        neu1e = np.empty(dim, np.float32)
        targets = np.empty(negative + 1, np.int32)
        pos = starts[t]
        end = ends[t]
        loss = 0.0
        pairs = 0
        words = 0
        while pos < end:
            progress = (epoch + (pos - bases[t]) / max(lengths_[t], 1)) / epochs
            alpha = max(alpha0 - (alpha0 - min_alpha) * progress, min_alpha)
            n = 0
            raw = 0
            while pos < end and raw < max_sentence:
                w = tokens[pos]
                pos += 1
                if w < 0:
                    break
                raw += 1
                if keep[w] < TWO32:
                    r = _lcg(r)
                    if keep[w] < ((r >> SHIFT16) & MASK32):
                        continue
                sen[n] = w
                n += 1
            words += raw
            for i in range(n):
                r = _lcg(r)
                b = np.int64(r % win)
                word = sen[i]
                lo = max(i - window + b, 0)
                hi = min(i + window - b + 1, n)
                for j in range(lo, hi):
                    if j == i:
                        continue
                    c = sen[j]
                    if use_hs:
                        loss += _pair_hs(syn0, syn1, c, points[word], codes[word],
                                         code_lengths[word], alpha, neu1e)
                    else:
                        targets[0] = word
                        m = 1
                        for _ in range(negative):
                            r = _lcg(r)
                            noise = _draw(r, prob, alias)
                            if noise == word:
                                continue
                            targets[m] = noise
                            m += 1
                        loss += _pair_ns(syn0, syn1, c, targets, m, alpha, neu1e)
                    pairs += 1
        rng[t] = r
        loss_out[t] += loss
        pairs_out[t] += pairs
        words_out[t] += words


def sg_epoch_dynamic(*args) -> None:
    """sg_epoch with parts handed to threads one at a time as they free up (numba's dynamic
    scheduling), so a thread slowed by other work on the machine does not hold the rest."""
    with nb.parallel_chunksize(1):
        sg_epoch(*args)


@nb.njit(fastmath=True, cache=True)
def pair_step_ns(syn0, syn1neg, l1, targets, alpha):  # pragma: no cover
    """One NS step (input row l1, targets[0] positive, the rest noise); returns the loss."""
    neu1e = np.empty(syn0.shape[1], np.float32)
    return _pair_ns(syn0, syn1neg, l1, targets, targets.shape[0], alpha, neu1e)


@nb.njit(fastmath=True, cache=True)
def pair_step_hs(syn0, syn1, l1, point, code, alpha):  # pragma: no cover
    """One HS step (input row l1 along inner rows `point` with bits `code`); returns the loss."""
    neu1e = np.empty(syn0.shape[1], np.float32)
    return _pair_hs(syn0, syn1, l1, point, code, point.shape[0], alpha, neu1e)


@nb.njit(cache=True)
def draw_noise(prob, alias, r, n):  # pragma: no cover
    """n noise words drawn as sg_epoch draws them, from LCG state r; returns (ids, state)."""
    out = np.empty(n, np.int32)
    for i in range(n):
        r = _lcg(r)
        out[i] = _draw(r, prob, alias)
    return out, r

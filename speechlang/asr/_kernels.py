"""numba kernels of the GMM-HMM: GMM log-likelihoods and statistics, Viterbi, forward-backward,
token-passing beam search. Contiguous arrays and scalars in, arrays out; no I/O, no RNG.
The validating wrappers live in gmm.py, hmm.py and decoder.py.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

NEG = -1.0e30  # log(0) stand-in that stays finite in sums


@nb.njit(cache=True, fastmath=True)
def _comp_loglik(x, t, means, inv_vars, gconst, g):  # pragma: no cover - compiled
    acc = 0.0
    for d in range(x.shape[1]):
        diff = x[t, d] - means[g, d]
        acc += diff * diff * inv_vars[g, d]
    return gconst[g] - 0.5 * acc


@nb.njit(cache=True, parallel=True)
def gmm_loglik(x, means, inv_vars, gconst, pdf_start, pdfs):  # pragma: no cover - compiled
    """x (T, D) f32; means, inv_vars (G, D) f32; gconst (G,) f32 = log w - 0.5 (D log 2pi + sum log var);
    pdf_start (P+1,) int32; pdfs (K,) int64 the pdfs wanted -> (T, K) f32
    log p(x_t | pdf) = logsumexp_g gconst_g - 0.5 sum_d (x_d - mu_gd)^2 / var_gd."""
    t_n = x.shape[0]
    k_n = pdfs.shape[0]
    out = np.empty((t_n, k_n), np.float32)
    width = 1
    for k in range(k_n):
        width = max(width, pdf_start[pdfs[k] + 1] - pdf_start[pdfs[k]])
    for t in nb.prange(t_n):
        comp = np.empty(width, np.float64)
        for k in range(k_n):
            p = pdfs[k]
            s0, s1 = pdf_start[p], pdf_start[p + 1]
            best = -np.inf
            for g in range(s0, s1):
                v = _comp_loglik(x, t, means, inv_vars, gconst, g)
                comp[g - s0] = v
                if v > best:
                    best = v
            s = 0.0
            for g in range(s1 - s0):
                s += math.exp(comp[g] - best)
            out[t, k] = best + math.log(s)
    return out


@nb.njit(cache=True)
def gmm_accumulate(x, frame, pdf, weight, means, inv_vars, gconst, pdf_start,
                   occ, acc1, acc2):  # pragma: no cover - compiled
    """Add weighted (frame, pdf) pairs to Gaussian statistics, in place.

    For each pair i the component posteriors of x[frame[i]] within pdf[i] are computed and
    weight[i] * posterior is added to occ (G,), acc1 (G, D) (sum x) and acc2 (G, D) (sum x^2),
    all float64. Returns the total weighted log-likelihood.
    """
    d_n = x.shape[1]
    comp = np.empty(means.shape[0], np.float64)
    total = 0.0
    for i in range(frame.shape[0]):
        t, p, w = frame[i], pdf[i], weight[i]
        best = -np.inf
        for g in range(pdf_start[p], pdf_start[p + 1]):
            acc = 0.0
            for d in range(d_n):
                diff = x[t, d] - means[g, d]
                acc += diff * diff * inv_vars[g, d]
            comp[g] = gconst[g] - 0.5 * acc
            if comp[g] > best:
                best = comp[g]
        s = 0.0
        for g in range(pdf_start[p], pdf_start[p + 1]):
            s += math.exp(comp[g] - best)
        lse = best + math.log(s)
        total += w * lse
        for g in range(pdf_start[p], pdf_start[p + 1]):
            r = w * math.exp(comp[g] - lse)
            if r < 1e-8:
                continue
            occ[g] += r
            for d in range(d_n):
                v = x[t, d]
                acc1[g, d] += r * v
                acc2[g, d] += r * v * v
    return total


@nb.njit(cache=True)
def viterbi(emit, init, arc_from, arc_to, arc_logp, final):  # pragma: no cover - compiled
    """Best state path through a graph of emitting states.

    emit (T, S) f32 log-likelihoods; init (S,), final (S,) log weights; arcs (A,) from -> to
    with log weights (self-loops included). Returns (path (T,) int32, log score); score NEG
    and path all -1 when no path ends in a final state.
    """
    t_n, s_n = emit.shape
    delta = np.full(s_n, NEG)
    new = np.empty(s_n)
    bp = np.full((t_n, s_n), -1, np.int32)
    for s in range(s_n):
        if init[s] > NEG:
            delta[s] = init[s] + emit[0, s]
    for t in range(1, t_n):
        new[:] = NEG
        for a in range(arc_from.shape[0]):
            i = arc_from[a]
            if delta[i] <= NEG:
                continue
            c = delta[i] + arc_logp[a]
            j = arc_to[a]
            if c > new[j]:
                new[j] = c
                bp[t, j] = i
        for s in range(s_n):
            delta[s] = new[s] + emit[t, s] if new[s] > NEG else NEG
    best, arg = NEG, -1
    for s in range(s_n):
        if final[s] > NEG and delta[s] > NEG and delta[s] + final[s] > best:
            best, arg = delta[s] + final[s], s
    path = np.full(t_n, -1, np.int32)
    if arg < 0:
        return path, NEG
    path[t_n - 1] = arg
    for t in range(t_n - 1, 0, -1):
        path[t - 1] = bp[t, path[t]]
    return path, best


@nb.njit(cache=True)
def _lse(a, b):  # pragma: no cover - compiled
    if a < b:
        a, b = b, a
    if b <= NEG:
        return a
    return a + math.log1p(math.exp(b - a))


@nb.njit(cache=True)
def forward_backward(emit, init, arc_from, arc_to, arc_logp, final):  # pragma: no cover - compiled
    """State posteriors of the same graph as viterbi: (gamma (T, S) f64, total log-likelihood)."""
    t_n, s_n = emit.shape
    alpha = np.full((t_n, s_n), NEG)
    beta = np.full((t_n, s_n), NEG)
    for s in range(s_n):
        if init[s] > NEG:
            alpha[0, s] = init[s] + emit[0, s]
    for t in range(1, t_n):
        for a in range(arc_from.shape[0]):
            i = arc_from[a]
            if alpha[t - 1, i] > NEG:
                j = arc_to[a]
                alpha[t, j] = _lse(alpha[t, j], alpha[t - 1, i] + arc_logp[a])
        for s in range(s_n):
            if alpha[t, s] > NEG:
                alpha[t, s] += emit[t, s]
    for s in range(s_n):
        beta[t_n - 1, s] = final[s]
    for t in range(t_n - 2, -1, -1):
        for a in range(arc_from.shape[0]):
            j = arc_to[a]
            if beta[t + 1, j] > NEG:
                i = arc_from[a]
                beta[t, i] = _lse(beta[t, i], arc_logp[a] + emit[t + 1, j] + beta[t + 1, j])
    total = NEG
    for s in range(s_n):
        if alpha[t_n - 1, s] > NEG and final[s] > NEG:
            total = _lse(total, alpha[t_n - 1, s] + final[s])
    gamma = np.zeros((t_n, s_n))
    if total <= NEG:
        return gamma, total
    for t in range(t_n):
        for s in range(s_n):
            v = alpha[t, s] + beta[t, s]
            if alpha[t, s] > NEG and beta[t, s] > NEG:
                gamma[t, s] = math.exp(v - total)
    return gamma, total


@nb.njit(cache=True)
def _grow(a, n):  # pragma: no cover - compiled
    b = np.empty(max(2 * a.shape[0], n), a.dtype)
    b[:a.shape[0]] = a
    return b


@nb.njit(cache=True)
def beam_search(loglik, e_pdf, e_loop, e_fwd, e_next, e_word, n_arc_start, arc_dest, arc_w,
                final_w, start_node, beam, max_active, nbest):  # pragma: no cover - compiled
    """Token-passing Viterbi beam search over a static decoding graph.

    loglik (T, P) f32 acoustic log-likelihoods. Emitting nodes (E,): pdf, self-loop and forward
    log weights, next node (>= 0 emitting, < 0: -1-k exits into non-emitting node k), word id
    of the chain. Non-emitting nodes (N,) are LM states, numbered so that back-off arcs go to
    higher numbers; their arcs (CSR n_arc_start) lead to emitting nodes (dest >= 0) or, as
    epsilon back-off arcs, to non-emitting ones (dest < 0: -1-k); final_w (N,) log weights.
    Returns (ends (nbest,) link ids, end scores, link_word, link_start, link_end, link_prev,
    partial (node, link, start frame, -1) of the best last-frame token, its score); ends are -1
    when fewer hypotheses reached a final state.
    """
    t_n = loglik.shape[0]
    e_n = e_pdf.shape[0]
    n_n = final_w.shape[0]
    cur = np.full(e_n, NEG)
    nxt = np.full(e_n, NEG)
    cur_link = np.full(e_n, -1, np.int64)
    nxt_link = np.full(e_n, -1, np.int64)
    cur_start = np.zeros(e_n, np.int32)
    nxt_start = np.zeros(e_n, np.int32)
    cur_act = np.empty(e_n, np.int64)
    nxt_act = np.empty(e_n, np.int64)
    in_nxt = np.zeros(e_n, np.bool_)
    n_cur = 0
    ne = np.full(n_n, NEG)
    ne_link = np.full(n_n, -1, np.int64)
    ne_from = np.full(n_n, -1, np.int64)  # emitting node whose word ends here (-1: none)
    ne_in = np.zeros(n_n, np.bool_)
    ne_act = np.empty(n_n, np.int64)
    cap = 1024
    l_word = np.empty(cap, np.int32)
    l_start = np.empty(cap, np.int32)
    l_end = np.empty(cap, np.int32)
    l_prev = np.empty(cap, np.int64)
    n_links = 0

    ends = np.full(nbest, -1, np.int64)
    end_scores = np.full(nbest, NEG)
    # frame -1: the start state
    n_ne = 1
    ne_act[0] = start_node
    ne_in[start_node] = True
    ne[start_node] = 0.0
    best = 0.0
    for t in range(t_n + 1):
        # epsilon closure of the non-emitting nodes (back-off arcs go to higher numbers)
        k = 0
        while k < n_ne:
            g = ne_act[k]
            k += 1
            for a in range(n_arc_start[g], n_arc_start[g + 1]):
                dst = arc_dest[a]
                if dst < 0:
                    h = -1 - dst
                    if not ne_in[h]:
                        ne_in[h] = True
                        ne_act[n_ne] = h
                        n_ne += 1
        order = np.sort(ne_act[:n_ne])
        for i in range(n_ne):
            g = order[i]
            if ne[g] <= NEG:
                continue
            if ne_from[g] >= 0:  # a word ended here in this frame: make its link
                if n_links == l_word.shape[0]:
                    l_word = _grow(l_word, n_links + 1)
                    l_start = _grow(l_start, n_links + 1)
                    l_end = _grow(l_end, n_links + 1)
                    l_prev = _grow(l_prev, n_links + 1)
                n = ne_from[g]
                l_word[n_links] = e_word[n]
                l_start[n_links] = cur_start[n]
                l_end[n_links] = t
                l_prev[n_links] = cur_link[n]
                ne_link[g] = n_links
                n_links += 1
            for a in range(n_arc_start[g], n_arc_start[g + 1]):
                dst = arc_dest[a]
                if dst < 0:
                    h = -1 - dst
                    c = ne[g] + arc_w[a]
                    if c > ne[h]:
                        ne[h] = c
                        ne_link[h] = ne_link[g]
                        ne_from[h] = -1
        if t == t_n:
            break
        # emitting transitions from frame t-1 tokens into frame t
        n_nxt = 0
        for i in range(n_cur):
            n = cur_act[i]
            s = cur[n]
            c = s + e_loop[n]
            if c > nxt[n]:
                if not in_nxt[n]:
                    in_nxt[n] = True
                    nxt_act[n_nxt] = n
                    n_nxt += 1
                nxt[n] = c
                nxt_link[n] = cur_link[n]
                nxt_start[n] = cur_start[n]
            m = e_next[n]
            if m >= 0:
                c = s + e_fwd[n]
                if c > nxt[m]:
                    if not in_nxt[m]:
                        in_nxt[m] = True
                        nxt_act[n_nxt] = m
                        n_nxt += 1
                    nxt[m] = c
                    nxt_link[m] = cur_link[n]
                    nxt_start[m] = cur_start[n]
        # word entries from the non-emitting nodes
        thr = best - beam
        for i in range(n_ne):
            g = order[i]
            s = ne[g]
            if s < thr:
                continue
            for a in range(n_arc_start[g], n_arc_start[g + 1]):
                m = arc_dest[a]
                if m < 0:
                    continue
                c = s + arc_w[a]
                if c < thr:
                    continue
                if c > nxt[m]:
                    if not in_nxt[m]:
                        in_nxt[m] = True
                        nxt_act[n_nxt] = m
                        n_nxt += 1
                    nxt[m] = c
                    nxt_link[m] = ne_link[g]
                    nxt_start[m] = t
        for i in range(n_ne):
            g = ne_act[i]
            ne[g] = NEG
            ne_in[g] = False
            ne_link[g] = -1
            ne_from[g] = -1
        n_ne = 0
        # emission, pruning
        best = NEG
        for i in range(n_nxt):
            m = nxt_act[i]
            nxt[m] += loglik[t, e_pdf[m]]
            if nxt[m] > best:
                best = nxt[m]
        thr = best - beam
        if n_nxt > max_active:
            sc = np.empty(n_nxt)
            for i in range(n_nxt):
                sc[i] = nxt[nxt_act[i]]
            kth = np.partition(sc, n_nxt - max_active)[n_nxt - max_active]
            if kth > thr:
                thr = kth
        for i in range(n_cur):
            cur[cur_act[i]] = NEG
        n_cur = 0
        for i in range(n_nxt):
            m = nxt_act[i]
            in_nxt[m] = False
            if nxt[m] >= thr:
                cur[m] = nxt[m]
                cur_link[m] = nxt_link[m]
                cur_start[m] = nxt_start[m]
                cur_act[n_cur] = m
                n_cur += 1
            nxt[m] = NEG
        # word ends at frame t into non-emitting nodes
        for i in range(n_cur):
            n = cur_act[i]
            if e_next[n] < 0:
                g = -1 - e_next[n]
                c = cur[n] + e_fwd[n]
                if c > ne[g]:
                    if not ne_in[g]:
                        ne_in[g] = True
                        ne_act[n_ne] = g
                        n_ne += 1
                    ne[g] = c
                    ne_from[g] = n
    # final: the n best distinct final states
    for i in range(n_ne):
        g = order[i]
        if ne[g] <= NEG or final_w[g] <= NEG:
            continue
        c = ne[g] + final_w[g]
        for j in range(nbest):
            if c > end_scores[j]:
                for k2 in range(nbest - 1, j, -1):
                    end_scores[k2] = end_scores[k2 - 1]
                    ends[k2] = ends[k2 - 1]
                end_scores[j] = c
                ends[j] = ne_link[g]
                break
    # the best token of the last frame, for a partial result when no final state was reached
    part = np.full(4, -1, np.int64)  # node, link, word start frame, (unused)
    part_score = NEG
    for i in range(n_cur):
        n = cur_act[i]
        if cur[n] > part_score:
            part_score = cur[n]
            part[0], part[1], part[2] = n, cur_link[n], cur_start[n]
    return (ends, end_scores, l_word[:n_links].copy(), l_start[:n_links].copy(),
            l_end[:n_links].copy(), l_prev[:n_links].copy(), part, part_score)

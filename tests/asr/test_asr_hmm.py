"""HMM kernels against brute force: Viterbi and forward-backward by enumerating every path,
GMM likelihoods against a direct numpy formula, the beam decoder against exact Viterbi on
the same graph, and the graph's LM weights against ARPA back-off queries."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from speechlang.asr import _kernels
from speechlang.asr.decoder import LN10, DecodeConfig, build_graph, decode_utterance
from speechlang.asr.gmm import GMMSet, GMMStats, reestimate, split
from speechlang.asr.hmm import Graph, forward_backward, viterbi
from speechlang.asr.lexicon import Lexicon
from speechlang.asr.model import AcousticModel
from speechlang.asr.tree import BOUNDARY, Tree, mono_tree
from speechlang.ngram.arpa import read_arpa
from speechlang.ngram.query import log10_prob

NEG = _kernels.NEG


def _tiny_graph(rng, s_n=4, a_n=9):
    pairs = sorted({(int(rng.integers(s_n)), int(rng.integers(s_n))) for _ in range(a_n)}
                   | {(s, s) for s in range(s_n)})
    af = np.array([p[0] for p in pairs])
    at = np.array([p[1] for p in pairs])
    al = np.log(rng.uniform(0.05, 1.0, len(pairs)))
    init = np.where(rng.uniform(size=s_n) < 0.6, np.log(rng.uniform(0.1, 1, s_n)), NEG)
    init[0] = math.log(0.5)
    final = np.where(rng.uniform(size=s_n) < 0.6, np.log(rng.uniform(0.1, 1, s_n)), NEG)
    final[-1] = math.log(0.7)
    z = np.zeros(s_n, np.int32)
    return Graph(z, z, z, z, z, z, z, af.astype(np.int64), at.astype(np.int64), al, init, final)


def _paths(g: Graph, emit: np.ndarray):
    """Every state sequence with its log score (-inf when impossible)."""
    arc = {(int(f), int(t)): w for f, t, w in zip(g.arc_from, g.arc_to, g.arc_logp, strict=True)}
    t_n, s_n = emit.shape
    for seq in itertools.product(range(s_n), repeat=t_n):
        if g.init[seq[0]] <= NEG or g.final[seq[-1]] <= NEG:
            continue
        score = g.init[seq[0]] + emit[0, seq[0]] + g.final[seq[-1]]
        for t in range(1, t_n):
            w = arc.get((seq[t - 1], seq[t]))
            if w is None:
                break
            score += w + emit[t, seq[t]]
        else:
            yield seq, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viterbi_and_forward_backward_match_enumeration(seed):
    rng = np.random.default_rng(seed)
    g = _tiny_graph(rng)
    emit = rng.normal(size=(5, 4)).astype(np.float32)
    paths = list(_paths(g, emit))
    assert paths
    best_seq, best = max(paths, key=lambda p: p[1])
    path, score = viterbi(emit, g)
    assert score == pytest.approx(best, abs=1e-4)
    assert tuple(path) == best_seq
    scores = np.array([s for _, s in paths])
    total = np.logaddexp.reduce(scores)
    gamma, fb_total = forward_backward(emit, g)
    assert fb_total == pytest.approx(total, abs=1e-4)
    want = np.zeros_like(gamma)
    for seq, s in paths:
        for t, st in enumerate(seq):
            want[t, st] += math.exp(s - total)
    np.testing.assert_allclose(gamma, want, atol=1e-5)


def _random_gmm(rng, p_n=5, d=4, sizes=(1, 3, 2, 4, 2)):
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    g_n = start[-1]
    w = rng.uniform(0.2, 1, g_n)
    for p in range(p_n):
        w[start[p]:start[p + 1]] /= w[start[p]:start[p + 1]].sum()
    return GMMSet(w, rng.normal(size=(g_n, d)), rng.uniform(0.3, 2, (g_n, d)), start)


def test_gmm_loglik_numba_and_torch_match_the_formula():
    rng = np.random.default_rng(0)
    gmm = _random_gmm(rng)
    x = rng.normal(size=(7, 4)).astype(np.float32)
    want = np.zeros((7, gmm.num_pdfs))
    for p in range(gmm.num_pdfs):
        comps = []
        for g in range(gmm.start[p], gmm.start[p + 1]):
            v = gmm.vars[g]
            comps.append(np.log(gmm.weights[g]) - 0.5 * (np.log(2 * np.pi * v).sum(0)
                                                         + ((x - gmm.means[g]) ** 2 / v).sum(1)))
        want[:, p] = np.logaddexp.reduce(np.array(comps), axis=0)
    np.testing.assert_allclose(gmm.loglik(x), want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gmm.loglik(x, torch.device("cpu")), want, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(gmm.loglik(x, pdfs=np.array([3, 1])), want[:, [3, 1]], rtol=1e-5, atol=1e-4)


def test_em_on_one_gaussian_gives_ml_estimates_and_split_keeps_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(500, 2)).astype(np.float32)
    gmm = GMMSet.single(np.zeros(2), np.ones(2), 1)
    st = GMMStats(gmm)
    st.add(x, np.arange(500), np.zeros(500, np.int64), np.ones(500))
    new = reestimate(st, np.full(2, 1e-3))
    np.testing.assert_allclose(new.means[0], x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new.vars[0], x.astype(np.float64).var(0), rtol=1e-4)
    two = split(new, np.array([500.0]), 2)
    assert two.num_gauss == 2 and two.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(two.means.mean(0), new.means[0])


ARPA = """\\data\\
ngram 1=5
ngram 2=6
ngram 3=2

\\1-grams:
-99\t<s>\t-0.30
-0.60\tba\t-0.25
-0.50\tko\t-0.20
-0.70\t</s>
-2.00\t<unk>

\\2-grams:
-0.20\t<s> ba\t-0.10
-0.40\t<s> ko
-0.30\tba ko\t-0.15
-0.50\tko ba
-0.25\tko </s>
-0.45\tba </s>

\\3-grams:
-0.05\t<s> ba ko
-0.10\tba ko </s>

\\end\\
"""


def _cross_word_tree(rng, depth: int = 3) -> Tree:
    """A cross-word tree over the 5 phones of _model asking random questions on both contexts
    (within-word phones, phones across a word boundary, BOUNDARY), 2**depth pdfs per root."""
    values = list(range(-1, 10))
    count = [0]

    def node(d):
        if d == 0:
            count[0] += 1
            return count[0] - 1
        q = frozenset(v for v in values if rng.uniform() < 0.5)
        return [2 * int(rng.integers(2)), q, node(d - 1), node(d - 1)]
    roots = {(c, k): node(depth) for c in range(5) for k in range(3)}
    return Tree(5, 3, roots, count[0], cross_word=True)


def _model(rng, d=3, cross_word=False):
    lex = Lexicon({"!SIL": [("SIL",)], "ba": [("B", "A")], "ko": [("K", "O"), ("K", "A", "O")]},
                  ["A", "B", "K", "O", "SIL"], "SIL")
    tree = _cross_word_tree(rng) if cross_word else mono_tree(5, 3)
    gmm = GMMSet.single(np.zeros(d), np.ones(d), tree.num_pdfs)
    loop = rng.uniform(0.3, 0.8, (5, 3))
    return AcousticModel("tri" if cross_word else "mono", lex, tree, gmm, loop, {})


def _closure(graph, g):
    """(non-emitting node, best epsilon weight) reachable from g over back-off arcs."""
    out = {g: 0.0}
    stack = [g]
    while stack:
        h = stack.pop()
        for a in range(graph.n_arc_start[h], graph.n_arc_start[h + 1]):
            d = graph.arc_dest[a]
            if d < 0:
                k, w = -1 - d, out[h] + graph.arc_w[a]
                if w > out.get(k, -np.inf):
                    out[k] = w
                    stack.append(k)
    return out


def test_graph_lm_weights_follow_arpa_backoff(tmp_path):
    (tmp_path / "lm.arpa").write_text(ARPA)
    lm = read_arpa(tmp_path / "lm.arpa")
    model = _model(np.random.default_rng(0))
    cfg = DecodeConfig(lm_weight=2.0, word_ins_penalty=-0.5)
    graph = build_graph(model, lm, cfg)
    wid = {w: i for i, w in enumerate(graph.words)}
    for g, h in enumerate(graph.contexts):
        for w in ("ba", "ko"):
            best = -np.inf
            for k, cw in _closure(graph, g).items():
                for a in range(graph.n_arc_start[k], graph.n_arc_start[k + 1]):
                    m = graph.arc_dest[a]
                    if m >= 0 and graph.e_word[m] == wid[w]:
                        best = max(best, cw + graph.arc_w[a])
            want = 2.0 * LN10 * log10_prob(lm, h, w) - 0.5
            assert best == pytest.approx(want, abs=1e-9), (h, w)
        assert graph.final_w[g] == pytest.approx(2.0 * LN10 * log10_prob(lm, h, "</s>"))


def _exact_score(graph, loglik):
    """Best complete path by the exact Viterbi kernel on the graph with epsilons removed."""
    e_n = graph.num_states
    af, at, al = [], [], []
    init = np.full(e_n, NEG)
    final = np.full(e_n, NEG)

    def entries(g):
        for k, cw in _closure(graph, g).items():
            for a in range(graph.n_arc_start[k], graph.n_arc_start[k + 1]):
                if graph.arc_dest[a] >= 0:
                    yield graph.arc_dest[a], cw + graph.arc_w[a]
    for m, w in entries(graph.start):
        init[m] = max(init[m], w)
    for n in range(e_n):
        af.append(n)
        at.append(n)
        al.append(graph.e_loop[n])
        nx = graph.e_next[n]
        if nx >= 0:
            af.append(n)
            at.append(nx)
            al.append(graph.e_fwd[n])
        else:
            g = -1 - nx
            for m, w in entries(g):
                af.append(n)
                at.append(m)
                al.append(graph.e_fwd[n] + w)
            final[n] = graph.e_fwd[n] + max(cw + graph.final_w[k] for k, cw in _closure(graph, g).items())
    z = np.zeros(e_n, np.int32)
    eg = Graph(z, z, z, z, z, z, z, np.array(af, np.int64), np.array(at, np.int64), np.array(al), init, final)
    path, score = viterbi(loglik[:, graph.e_pdf], eg)
    return path, score


@pytest.mark.parametrize("seed,cross_word", [(0, False), (1, False), (2, False), (3, False),
                                             (4, True), (5, True), (6, True)])
def test_beam_search_with_a_wide_beam_equals_exact_viterbi(tmp_path, seed, cross_word):
    (tmp_path / "lm.arpa").write_text(ARPA)
    lm = read_arpa(tmp_path / "lm.arpa")
    rng = np.random.default_rng(seed)
    model = _model(rng, cross_word=cross_word)
    cfg = DecodeConfig(lm_weight=1.5, word_ins_penalty=0.3, beam=1e6, max_active=100000, nbest=3)
    graph = build_graph(model, lm, cfg)
    loglik = rng.normal(0, 2, size=(14, model.tree.num_pdfs)).astype(np.float32)
    hyps = decode_utterance(graph, loglik, cfg)
    path, score = _exact_score(graph, loglik)
    assert hyps[0].score == pytest.approx(score, abs=1e-3)
    # the words of the exact path: a new word starts where the path enters a chain's first state
    firsts = {graph.arc_dest[a] for a in range(len(graph.arc_dest)) if graph.arc_dest[a] >= 0}
    words = [graph.words[graph.e_word[s]] for t, s in enumerate(path)
             if s in firsts and (t == 0 or path[t - 1] != s)]
    assert hyps[0].words == [w for w in words if w != "!SIL"]
    assert [h.score for h in hyps] == sorted([h.score for h in hyps], reverse=True)
    # frames: the words' segments tile the utterance
    assert hyps[0].times[0][1] == 0 and hyps[0].times[-1][2] == 14


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@requires_cuda
def test_gpu_likelihoods_and_features_equal_cpu():
    from speechlang.asr.features import FeatureConfig, add_deltas, mfcc
    rng = np.random.default_rng(0)
    gmm = _random_gmm(rng)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    np.testing.assert_allclose(gmm.loglik(x, torch.device("cuda")), gmm.loglik(x), rtol=1e-4, atol=1e-3)
    wav = torch.from_numpy((0.1 * rng.standard_normal(8000)).astype(np.float32))
    cpu = add_deltas(mfcc(wav, FeatureConfig()))
    gpu = add_deltas(mfcc(wav.cuda(), FeatureConfig())).cpu()
    np.testing.assert_allclose(gpu.numpy(), cpu.numpy(), rtol=1e-3, atol=2e-3)


def test_tree_splits_on_the_context_that_separates_the_data():
    from speechlang.asr.tree import build_tree, questions_from_data
    rng = np.random.default_rng(0)
    stats = {}
    for left in (BOUNDARY, 0, 1, 2, 3):
        for right in (0, 1, 2, 3):
            mu = 5.0 if left in (1, 2) else -5.0  # the left phone decides, the right does not
            x = rng.normal(mu, 1.0, size=(200, 2))
            stats[(left, 4, right, 1)] = (200.0, x.sum(0), (x * x).sum(0))
    phone_stats = {p: (100.0, np.full(2, 100.0 * m), np.full(2, 100.0 * (m * m + 1)))
                   for p, m in ((0, -5), (1, 5), (2, 5), (3, -5))}
    questions = questions_from_data(phone_stats, np.full(2, 1e-3))
    assert frozenset({1, 2}) in questions and frozenset({0, 3}) in questions
    tree = build_tree(stats, questions, 5, 3, set(), target_leaves=5 * 3 + 1, min_count=50)
    assert tree.num_pdfs == 16  # one split on top of the 15 roots
    yes = {tree.pdf(lc, 4, rc, 1) for lc in (1, 2) for rc in range(4)}
    no = {tree.pdf(lc, 4, rc, 1) for lc in (BOUNDARY, 0, 3) for rc in range(4)}
    assert len(yes) == 1 and len(no) == 1 and yes != no
    again = Tree.from_json(tree.to_json())
    assert all(again.pdf(lc, 4, rc, 1) == tree.pdf(lc, 4, rc, 1) for lc in range(4) for rc in range(4))


def test_too_short_input_gives_a_partial_hypothesis(tmp_path):
    (tmp_path / "lm.arpa").write_text(ARPA)
    lm = read_arpa(tmp_path / "lm.arpa")
    rng = np.random.default_rng(5)
    model = _model(rng)
    cfg = DecodeConfig(beam=1e6)
    graph = build_graph(model, lm, cfg)
    loglik = rng.normal(size=(2, model.tree.num_pdfs)).astype(np.float32)  # < 3 states: no word ends
    hyps = decode_utterance(graph, loglik, cfg)
    assert len(hyps) == 1 and hyps[0].partial
    assert hyps[0].times[-1][2] == 2
    full = decode_utterance(graph, rng.normal(size=(12, model.tree.num_pdfs)).astype(np.float32), cfg)
    assert not full[0].partial


def _path_contexts(g: Graph, path: np.ndarray, num_phones: int) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's (left, right) context from the phone instances along a state path: the
    neighbouring instance's phone, + num_phones where the word position changes or silence
    is involved, BOUNDARY at the ends (cross-word contexts computed independently of hmm.py)."""
    starts = [t for t in range(len(path)) if t == 0 or g.instance[path[t]] != g.instance[path[t - 1]]]
    phones = [int(g.phone[path[t]]) for t in starts]
    pos = [int(g.word_pos[path[t]]) for t in starts]

    def seen(i, j):  # instance j as the context of instance i
        if j < 0 or j == len(starts):
            return BOUNDARY
        return phones[j] + num_phones * (pos[i] != pos[j] or pos[i] < 0)
    ctx = [(seen(i, i - 1), seen(i, i + 1)) for i in range(len(starts))]
    inst = np.searchsorted(starts, np.arange(len(path)), side="right") - 1
    return np.array([ctx[i][0] for i in inst]), np.array([ctx[i][1] for i in inst])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_word_training_graph_gives_each_path_its_neighbours_as_contexts(seed):
    from speechlang.asr.align import training_graph
    from speechlang.asr.alignfile import UttAlignment, cross_word_contexts
    rng = np.random.default_rng(seed)
    model = _model(rng, cross_word=True)
    words = ["ko", "ba", "ko", "ko"]
    g = training_graph(model, words)
    wi = training_graph(_model(rng), words)  # the same transcript, word-internal contexts
    for _ in range(10):
        path, score = viterbi(rng.normal(0, 3, (60, g.num_states)).astype(np.float32), g)
        assert math.isfinite(score)
        left, right = _path_contexts(g, path, 5)
        np.testing.assert_array_equal(g.ctx_left[path], left)
        np.testing.assert_array_equal(g.ctx_right[path], right)
        want = [model.tree.pdf(int(a), int(c), int(b), int(k))
                for a, c, b, k in zip(left, g.phone[path], right, g.hmm_state[path], strict=True)]
        np.testing.assert_array_equal(g.pdf[path], want)
        # the same contexts from a word-internal alignment's phones and word boundaries
        p2, _ = viterbi(rng.normal(0, 3, (60, wi.num_states)).astype(np.float32), wi)
        a = cross_word_contexts(UttAlignment(wi.pdf[p2], wi.phone[p2], wi.hmm_state[p2],
                                             wi.ctx_left[p2], wi.ctx_right[p2]), 5)
        left2, right2 = _path_contexts(wi, p2, 5)
        np.testing.assert_array_equal(a.ctx_left, left2)
        np.testing.assert_array_equal(a.ctx_right, right2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_word_decoder_finds_the_pdf_sequence_of_a_training_graph_path(tmp_path, seed):
    """Likelihoods that favour exactly the pdfs of one path through the training graph of a
    transcript: the decoder must find that transcript, matching every frame."""
    from speechlang.asr.align import training_graph
    (tmp_path / "lm.arpa").write_text(ARPA)
    rng = np.random.default_rng(seed)
    model = _model(rng, cross_word=True)
    cfg = DecodeConfig(lm_weight=1.0, beam=1e6, max_active=100000)
    graph = build_graph(model, read_arpa(tmp_path / "lm.arpa"), cfg)
    for words in (["ba", "ko", "ko"], ["ko", "ba"], ["ko", "ko", "ba", "ko"]):
        g = training_graph(model, words)
        path, _ = viterbi(rng.normal(0, 1, (12 * len(words), g.num_states)).astype(np.float32), g)
        loglik = np.full((len(path), model.tree.num_pdfs), -1000.0, np.float32)
        loglik[np.arange(len(path)), g.pdf[path]] = 0.0
        hyp = decode_utterance(graph, loglik, cfg)[0]
        assert hyp.words == words and hyp.score > -1000

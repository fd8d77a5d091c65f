"""HMM topology, utterance graphs for training, Viterbi and forward-backward (numba wrappers).

    g = utterance_graph(words, model); path, score = viterbi(g.emit(loglik), g)

Each phone is a 3-state left-to-right HMM (Bakis; Kaldi's default topology without skips):
state k has a self-loop with probability a_k and moves on with 1 - a_k; the last state
leaves the phone. The self-loop probabilities are shared by all contexts of a phone.
An utterance graph strings the words of a transcript together, each word as its alternative
pronunciations in parallel, with optional silence before, between and after the words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from speechlang.asr import _kernels
from speechlang.asr.tree import BOUNDARY, across
from speechlang.errors import DataError

NEG = _kernels.NEG


@dataclass
class Graph:
    """Emitting states (S,) with their pdf, phone, HMM state, word index (position in the
    transcript, -1 = silence) and a unique id per phone instance; arcs and init/final weights."""

    pdf: np.ndarray
    phone: np.ndarray
    hmm_state: np.ndarray
    word_pos: np.ndarray
    instance: np.ndarray
    ctx_left: np.ndarray
    ctx_right: np.ndarray
    arc_from: np.ndarray
    arc_to: np.ndarray
    arc_logp: np.ndarray
    init: np.ndarray
    final: np.ndarray

    @property
    def num_states(self) -> int:
        return len(self.pdf)

    def emit(self, loglik: np.ndarray) -> np.ndarray:
        """(T, P) pdf log-likelihoods -> (T, S) per graph state."""
        return np.ascontiguousarray(loglik[:, self.pdf], dtype=np.float32)


def _log(p: float) -> float:
    return math.log(p) if p > 0 else NEG


START, END = -1, -2  # the ends of a phone graph


def utterance_graph(words: list[str], prons: dict[str, list[tuple[str, ...]]],
                    phone_id: dict[str, int], silence: str, tree, loop_prob: np.ndarray,
                    sil_prob: float = 0.5) -> Graph:
    """The training graph of one transcript (see the module docstring). loop_prob (phones, states).

    Built in two steps: a graph of phone instances (each pronunciation's phones in a row,
    optional silence between the words), then each instance as one HMM per context (left
    phone, right phone) its neighbours in the phone graph give it. With a word-internal tree
    (tree.cross_word False) a word's edges see BOUNDARY, so every instance has one context;
    with a cross-word tree they see the phones of the neighbouring words or silence, marked
    as across a word boundary (tree.across), and BOUNDARY only at the utterance ends.
    """
    sil = phone_id[silence]
    inst_phone: list[int] = []
    inst_pos: list[int] = []
    links: list[tuple[int, int, float]] = []  # (from instance or START, to instance or END, log p)

    def phones(seq: list[int], pos: int, frontier, extra: float) -> int:
        """Instances of seq in a row, entered from every frontier item; returns the last one."""
        prev = None
        for p in seq:
            inst_phone.append(p)
            inst_pos.append(pos)
            v = len(inst_phone) - 1
            if prev is None:
                links.extend((u, v, lp + extra) for u, lp in frontier)
            else:
                links.append((prev, v, 0.0))
            prev = v
        return prev

    def optional_silence(frontier):
        last = phones([sil], -1, frontier, _log(sil_prob))
        return [(u, lp + _log(1 - sil_prob)) for u, lp in frontier] + [(last, 0.0)]

    frontier: list[tuple[int, float]] = [(START, 0.0)]
    for pos, w in enumerate(words):
        frontier = optional_silence(frontier)
        if w not in prons:
            raise DataError(f"word {w!r} is not in the lexicon")
        frontier = [(phones([phone_id[p] for p in pron], pos, frontier, 0.0), 0.0)
                    for pron in prons[w]]
    links.extend((u, END, lp) for u, lp in optional_silence(frontier))
    return _expand(inst_phone, inst_pos, links, tree, loop_prob)


def _expand(inst_phone: list[int], inst_pos: list[int], links, tree, loop_prob: np.ndarray) -> Graph:
    """HMM states for every (instance, left context, right context) of a phone graph."""
    def label(u: int, v: int, of: int) -> int:
        """The context that instance `of` (u or v) of the link u -> v shows the other one."""
        if u == START or v == END:
            return BOUNDARY
        if inst_pos[u] != inst_pos[v] or inst_pos[u] < 0:  # a word boundary
            return across(inst_phone[of], tree.num_phones) if tree.cross_word else BOUNDARY
        return inst_phone[of]

    n_inst = len(inst_phone)
    lefts: list[list[int]] = [[] for _ in range(n_inst)]
    rights: list[list[int]] = [[] for _ in range(n_inst)]
    for u, v, _ in links:
        if v != END and label(u, v, u) not in lefts[v]:
            lefts[v].append(label(u, v, u))
        if u != START and label(u, v, v) not in rights[u]:
            rights[u].append(label(u, v, v))
    cols: dict[str, list] = {k: [] for k in ("pdf", "phone", "hmm_state", "word_pos", "instance",
                                             "ctx_left", "ctx_right")}
    af, at, al = [], [], []
    init: dict[int, float] = {}
    final: dict[int, float] = {}
    first: dict[tuple[int, int], list[int]] = {}  # (instance, left) -> first states of its copies
    last: dict[tuple[int, int], list[int]] = {}  # (instance, right) -> last states of its copies
    into: list[list[tuple[int, float]]] = [[] for _ in range(n_inst)]
    for u, v, lp in links:
        if v != END:
            into[v].append((u, lp))
    n_states = tree.num_states
    copy_id = 0
    for v in range(n_inst):
        p = inst_phone[v]
        for left in lefts[v]:
            for right in rights[v]:
                s0 = len(cols["pdf"])
                for k in range(n_states):
                    s = s0 + k
                    for key, val in (("pdf", tree.pdf(left, p, right, k)), ("phone", p),
                                     ("hmm_state", k), ("word_pos", inst_pos[v]), ("instance", copy_id),
                                     ("ctx_left", left), ("ctx_right", right)):
                        cols[key].append(val)
                    af.append(s)
                    at.append(s)
                    al.append(_log(loop_prob[p, k]))
                    if k > 0:
                        af.append(s - 1)
                        at.append(s)
                        al.append(_log(1 - loop_prob[p, k - 1]))
                copy_id += 1
                first.setdefault((v, left), []).append(s0)
                last.setdefault((v, right), []).append(s0 + n_states - 1)
        for u, lp in into[v]:  # links into v's copies, from the copies of u that expect v
            targets = first[(v, label(u, v, u))]
            if u == START:
                for s in targets:
                    init[s] = max(init.get(s, NEG), lp)
                continue
            for src in last[(u, label(u, v, v))]:
                w = _log(1 - loop_prob[inst_phone[u], n_states - 1]) + lp
                for s in targets:
                    af.append(src)
                    at.append(s)
                    al.append(w)
    for u, v, lp in links:
        if v == END:
            for s in last[(u, BOUNDARY)]:
                final[s] = max(final.get(s, NEG), _log(1 - loop_prob[inst_phone[u], n_states - 1]) + lp)
    n = len(cols["pdf"])
    init_a = np.full(n, NEG)
    final_a = np.full(n, NEG)
    for s, val in init.items():
        init_a[s] = val
    for s, val in final.items():
        final_a[s] = val
    as_i = {k: np.asarray(val, np.int32) for k, val in cols.items()}
    return Graph(**as_i, arc_from=np.asarray(af, np.int64), arc_to=np.asarray(at, np.int64),
                 arc_logp=np.asarray(al, np.float64), init=init_a, final=final_a)


def _check(emit: np.ndarray, g: Graph) -> np.ndarray:
    e = np.ascontiguousarray(emit, np.float32)
    if e.ndim != 2 or e.shape[1] != g.num_states:
        raise DataError(f"emission matrix {e.shape} does not match the graph's {g.num_states} states")
    if e.shape[0] == 0:
        raise DataError("cannot align zero frames")
    return e


def viterbi(emit: np.ndarray, g: Graph) -> tuple[np.ndarray, float]:
    """Best path: (state per frame (T,) int32, log score); (all -1, -inf) when none fits."""
    path, score = _kernels.viterbi(_check(emit, g), g.init, g.arc_from, g.arc_to, g.arc_logp, g.final)
    return path, (score if score > NEG else -math.inf)


def forward_backward(emit: np.ndarray, g: Graph) -> tuple[np.ndarray, float]:
    """State posteriors (T, S) float64 and the total log-likelihood (-inf when no path fits)."""
    gamma, total = _kernels.forward_backward(_check(emit, g), g.init, g.arc_from, g.arc_to,
                                             g.arc_logp, g.final)
    return gamma, (total if total > NEG else -math.inf)

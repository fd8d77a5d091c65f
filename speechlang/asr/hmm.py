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
from speechlang.asr.tree import BOUNDARY
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


def utterance_graph(words: list[str], prons: dict[str, list[tuple[str, ...]]],
                    phone_id: dict[str, int], silence: str, tree, loop_prob: np.ndarray,
                    sil_prob: float = 0.5) -> Graph:
    """The training graph of one transcript (see the module docstring). loop_prob (phones, states)."""
    cols: dict[str, list] = {k: [] for k in ("pdf", "phone", "hmm_state", "word_pos", "instance",
                                             "ctx_left", "ctx_right")}
    af, at, al = [], [], []
    init: dict[int, float] = {}
    final: dict[int, float] = {}
    n_inst = [0]
    n_states = tree.num_states

    def chain(phones: list[int], pos: int) -> tuple[int, int]:
        first = len(cols["pdf"])
        for i, p in enumerate(phones):
            left = phones[i - 1] if i > 0 else BOUNDARY
            right = phones[i + 1] if i + 1 < len(phones) else BOUNDARY
            for k in range(n_states):
                s = len(cols["pdf"])
                for key, v in (("pdf", tree.pdf(left, p, right, k)), ("phone", p), ("hmm_state", k),
                               ("word_pos", pos), ("instance", n_inst[0]), ("ctx_left", left),
                               ("ctx_right", right)):
                    cols[key].append(v)
                a = loop_prob[p, k]
                af.append(s)
                at.append(s)
                al.append(_log(a))
                if s > first:
                    af.append(s - 1)
                    at.append(s)
                    al.append(_log(1 - loop_prob[cols["phone"][s - 1], cols["hmm_state"][s - 1]]))
            n_inst[0] += 1
        return first, len(cols["pdf"]) - 1

    def exit_logp(s: int) -> float:
        return _log(1 - loop_prob[cols["phone"][s], cols["hmm_state"][s]])

    def connect(frontier, first: int, extra: float) -> None:
        for src, lp in frontier:
            if src is None:
                init[first] = max(init.get(first, NEG), lp + extra)
            else:
                af.append(src)
                at.append(first)
                al.append(exit_logp(src) + lp + extra)

    sil = phone_id[silence]

    def optional_silence(frontier):
        f, last = chain([sil], -1)
        connect(frontier, f, _log(sil_prob))
        return [(s, lp + _log(1 - sil_prob)) for s, lp in frontier] + [(last, 0.0)]

    frontier: list[tuple[int | None, float]] = [(None, 0.0)]
    for pos, w in enumerate(words):
        frontier = optional_silence(frontier)
        new = []
        if w not in prons:
            raise DataError(f"word {w!r} is not in the lexicon")
        for pron in prons[w]:
            f, last = chain([phone_id[p] for p in pron], pos)
            connect(frontier, f, 0.0)
            new.append((last, 0.0))
        frontier = new
    frontier = optional_silence(frontier)
    for s, lp in frontier:
        if s is not None:
            final[s] = max(final.get(s, NEG), exit_logp(s) + lp)
    n = len(cols["pdf"])
    init_a = np.full(n, NEG)
    final_a = np.full(n, NEG)
    for s, v in init.items():
        init_a[s] = v
    for s, v in final.items():
        final_a[s] = v
    as_i = {k: np.asarray(v, np.int32) for k, v in cols.items()}
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

"""Phonetic decision trees: state tying of triphones (Young, Odell & Woodland 1994).

    tree = build_tree(stats, questions, num_phones, sil, target_leaves=500)
    pdf = tree.pdf(left, center, right, state)

A context is (left, center, right, state) with phone ids. With word-internal triphones (the
default) the first and last phone of a word see BOUNDARY (-1) beyond the word. With
cross-word triphones (Tree.cross_word) they see the neighbouring word's phone or silence,
marked as lying across a word boundary: phone p there is the context num_phones + p (like
Kaldi's word-position-dependent phones, a question can tell the two apart), and only the
ends of an utterance are BOUNDARY. Each
(center, state) has its own root; a node asks whether the left or right phone is in a set of
phones (BOUNDARY may be in the set). Splits are chosen greedily by the gain in log-likelihood
of single diagonal Gaussians fitted to the frames of each side (Kaldi's build-tree does the same).
The mono tree has one leaf per (phone, state) and ignores the context.
"""

from __future__ import annotations

import heapq
import math
import os
from dataclasses import dataclass, field

import numpy as np

from speechlang.errors import FormatError
from speechlang.io import iter_lines

BOUNDARY = -1


def across(phone: int, num_phones: int) -> int:
    """The context value of `phone` seen across a word boundary (cross-word trees)."""
    return num_phones + phone


@dataclass
class Tree:
    """roots[(center, state)] = node; node = int (pdf) or [pos, phone set, yes node, no node],
    pos 0 = left context, 2 = right context. cross_word: contexts reach across word boundaries."""

    num_phones: int
    num_states: int
    roots: dict[tuple[int, int], object] = field(default_factory=dict)
    num_pdfs: int = 0
    cross_word: bool = False

    def pdf(self, left: int, center: int, right: int, state: int) -> int:
        node = self.roots[(center, state)]
        while not isinstance(node, int):
            pos, phones, yes, no = node
            node = yes if (left if pos == 0 else right) in phones else no
        return node

    def to_json(self) -> dict:
        def enc(n):
            return n if isinstance(n, int) else [n[0], sorted(n[1]), enc(n[2]), enc(n[3])]
        return {"num_phones": self.num_phones, "num_states": self.num_states,
                "num_pdfs": self.num_pdfs, **({"cross_word": True} if self.cross_word else {}),
                "roots": [[c, s, enc(n)] for (c, s), n in sorted(self.roots.items())]}

    @classmethod
    def from_json(cls, d: dict) -> Tree:
        def dec(n):
            return n if isinstance(n, int) else [n[0], frozenset(n[1]), dec(n[2]), dec(n[3])]
        return cls(d["num_phones"], d["num_states"], {(c, s): dec(n) for c, s, n in d["roots"]},
                   d["num_pdfs"], bool(d.get("cross_word", False)))


def mono_tree(num_phones: int, num_states: int = 3) -> Tree:
    roots = {(p, s): p * num_states + s for p in range(num_phones) for s in range(num_states)}
    return Tree(num_phones, num_states, roots, num_phones * num_states)


def _loglik(n: float, s1: np.ndarray, s2: np.ndarray, var_floor: np.ndarray) -> float:
    """Log-likelihood of n frames under their own ML diagonal Gaussian."""
    if n <= 0:
        return 0.0
    var = np.maximum(s2 / n - (s1 / n) ** 2, var_floor)
    return -0.5 * n * (len(s1) * (1 + math.log(2 * math.pi)) + float(np.log(var).sum()))


def build_tree(stats: dict[tuple[int, int, int, int], tuple[float, np.ndarray, np.ndarray]],
               questions: list[frozenset[int]], num_phones: int, num_states: int,
               no_split: set[int], target_leaves: int, min_count: float = 100.0,
               min_gain: float = 1.0, var_floor: np.ndarray | None = None) -> Tree:
    """Greedy tying. stats[(left, center, right, state)] = (count, sum (D,), sum of squares (D,)).

    Every (center, state) of every phone gets a root (phones in no_split, e.g. silence, and
    states without data keep a single leaf); leaves are split best-gain-first until there are
    target_leaves or no split gains min_gain with min_count frames on each side.
    """
    dim = len(next(iter(stats.values()))[1]) if stats else 1
    vf = np.full(dim, 1e-6) if var_floor is None else var_floor
    by_root: dict[tuple[int, int], list] = {}
    for key in stats:
        by_root.setdefault((key[1], key[3]), []).append(key)
    counter = [0]

    # columns: phones, phones across a word boundary, BOUNDARY (index -1)
    qmask = np.zeros((len(questions), 2 * num_phones + 1), bool)
    for i, q in enumerate(questions):
        for p in q:
            qmask[i, p] = True

    def vec_loglik(n, s1, s2):
        nn = np.maximum(n, 1e-10)[:, None]
        var = np.maximum(s2 / nn - (s1 / nn) ** 2, vf)
        return -0.5 * n * (dim * (1 + math.log(2 * math.pi)) + np.log(var).sum(1))

    def best_split(keys):
        arr_n = np.array([stats[k][0] for k in keys])
        arr_1 = np.array([stats[k][1] for k in keys])
        arr_2 = np.array([stats[k][2] for k in keys])
        n, s1, s2 = arr_n.sum(), arr_1.sum(0), arr_2.sum(0)
        base = _loglik(n, s1, s2, vf)
        best = (0.0, None)
        for pos in (0, 2):
            ctx = np.array([k[pos] for k in keys])
            member = qmask[:, ctx]  # (Q, K)
            ny = member @ arr_n
            y1, y2 = member @ arr_1, member @ arr_2
            gain = (vec_loglik(ny, y1, y2) + vec_loglik(n - ny, s1 - y1, s2 - y2) - base)
            ok = (ny >= min_count) & (n - ny >= min_count)
            gain = np.where(ok, gain, -np.inf)
            i = int(np.argmax(gain))
            if gain[i] > best[0]:
                yes = [k for k, m in zip(keys, member[i], strict=True) if m]
                no = [k for k, m in zip(keys, member[i], strict=True) if not m]
                best = (float(gain[i]), (pos, questions[i], yes, no))
        return best

    # leaves: id -> (root, path), a heap of candidate splits
    nodes: dict[int, list] = {}
    heap = []
    leaves = 0
    roots_tmp: dict[tuple[int, int], list] = {}
    for c in range(num_phones):
        for s in range(num_states):
            holder = [None]
            roots_tmp[(c, s)] = holder
            keys = by_root.get((c, s), [])
            leaf = counter[0]
            counter[0] += 1
            nodes[leaf] = [holder, 0, keys]
            leaves += 1
            if keys and c not in no_split:
                gain, split = best_split(keys)
                if split is not None and gain >= min_gain:
                    heapq.heappush(heap, (-gain, leaf, split))
    while heap and leaves < target_leaves:
        _, leaf, (pos, q, yes, no) = heapq.heappop(heap)
        holder, idx, _ = nodes.pop(leaf)
        inner = [pos, q, None, None]
        holder[idx] = inner
        for slot, keys in ((2, yes), (3, no)):
            new = counter[0]
            counter[0] += 1
            nodes[new] = [inner, slot, keys]
            gain, split = best_split(keys)
            if split is not None and gain >= min_gain:
                heapq.heappush(heap, (-gain, new, split))
        leaves += 1
    # number the leaves in root order
    pdf = 0
    for leaf in sorted(nodes):
        holder, idx, _ = nodes[leaf]
        holder[idx] = pdf
        pdf += 1

    def freeze(n):
        return n if isinstance(n, int) else [n[0], frozenset(n[1]), freeze(n[2]), freeze(n[3])]
    return Tree(num_phones, num_states, {k: freeze(h[0]) for k, h in roots_tmp.items()}, pdf)


def questions_from_data(phone_stats: dict[int, tuple[float, np.ndarray, np.ndarray]],
                        var_floor: np.ndarray) -> list[frozenset[int]]:
    """Phone classes by bottom-up clustering of the phones' Gaussians (the pair whose merge loses
    the least likelihood first); every cluster formed is a question, plus each single phone and
    the word boundary on its own."""
    clusters = {frozenset([p]): v for p, v in phone_stats.items()}
    qs = set(clusters) | {frozenset([BOUNDARY])}
    while len(clusters) > 1:
        items = list(clusters.items())
        best = None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, sa), (b, sb) = items[i], items[j]
                n, s1, s2 = sa[0] + sb[0], sa[1] + sb[1], sa[2] + sb[2]
                loss = (_loglik(*sa, var_floor) + _loglik(*sb, var_floor)
                        - _loglik(n, s1, s2, var_floor))
                if best is None or loss < best[0]:
                    best = (loss, a, b, (n, s1, s2))
        _, a, b, merged = best
        del clusters[a], clusters[b]
        clusters[a | b] = merged
        qs.add(a | b)
    return sorted(qs, key=lambda q: (len(q), sorted(q)))


def cross_word_questions(questions: list[frozenset[int]], num_phones: int,
                         silence: int) -> list[frozenset[int]]:
    """Questions for a cross-word tree from phone classes: each class Q within the word, across
    a word boundary, and on either side; plus "across a word boundary or at an utterance end",
    the utterance ends alone, and silence."""
    out = set()
    for q in questions:
        phones = frozenset(p for p in q if p != BOUNDARY)
        if phones:
            far = frozenset(across(p, num_phones) for p in phones)
            out |= {phones, far, phones | far}
    out.add(frozenset(range(num_phones, 2 * num_phones)) | {BOUNDARY})
    out.add(frozenset([BOUNDARY]))
    out.add(frozenset([across(silence, num_phones), BOUNDARY]))
    return sorted(out, key=lambda q: (len(q), sorted(q)))


def read_questions(path: str | os.PathLike, phone_id: dict[str, int]) -> list[frozenset[int]]:
    """A questions file: one phone class per line (phone names, `<b>` = word boundary)."""
    qs = []
    for lineno, line in enumerate(iter_lines(path), 1):
        names = line.split()
        if not names:
            continue
        bad = [n for n in names if n not in phone_id and n != "<b>"]
        if bad:
            raise FormatError(f"{path}:{lineno}: unknown phone(s) {', '.join(bad[:5])}")
        qs.append(frozenset(BOUNDARY if n == "<b>" else phone_id[n] for n in names))
    if not qs:
        raise FormatError(f"{path}: no questions")
    return qs

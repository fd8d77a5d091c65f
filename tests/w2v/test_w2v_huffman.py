"""Huffman tree: prefix-free codes, Kraft equality, optimal weighted path length."""

from __future__ import annotations

import heapq
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from speechlang.w2v.huffman import huffman_tree


def optimal_cost(counts) -> int:
    """Weighted path length of an optimal prefix code: the sum of all merge weights
    (an independent heap-based Huffman computation)."""
    heap = list(counts)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost


def check_tree(counts):
    tree = huffman_tree(counts)
    v = len(counts)
    codes = [tree.code(w) for w in range(v)]
    # prefix-free: in sorted order a prefix would sit right before a word it prefixes
    s = sorted(codes)
    assert all(not b.startswith(a) for a, b in zip(s, s[1:], strict=False))
    assert len(set(codes)) == v
    # Kraft's equality for a full binary tree
    assert sum(Fraction(1, 2 ** len(c)) for c in codes) == 1
    # optimal: same weighted path length as the heap construction
    assert sum(int(c) * len(code) for c, code in zip(counts, codes, strict=True)) == optimal_cost(counts)
    # points: the path starts at the root (row V - 2), rows are inner nodes, and words that
    # share a code prefix share the inner nodes along it
    assert (tree.points[:, 0] == v - 2).all()
    for w in range(v):
        n = tree.lengths[w]
        assert ((tree.points[w, :n] >= 0) & (tree.points[w, :n] < v - 1)).all()
    node_of = {}
    for w in range(v):
        for i in range(tree.lengths[w]):
            prefix = codes[w][:i]
            assert node_of.setdefault(prefix, tree.points[w, i]) == tree.points[w, i]
    assert len(set(node_of.values())) == v - 1
    return tree


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=2, max_size=200))
def test_huffman_random_counts(counts):
    check_tree(counts)


def test_huffman_hand_example():
    # counts 5, 2, 1, 1: merges 1+1=2, 2+2=4, 4+5=9 -> lengths 1, 2, 3, 3
    tree = check_tree([5, 2, 1, 1])
    assert tree.lengths.tolist() == [1, 2, 3, 3]


def test_huffman_skewed_counts_give_long_codes():
    counts = [2**k for k in range(20, 0, -1)]  # Fibonacci-like skew: a chain
    tree = check_tree(counts)
    assert tree.lengths.max() == len(counts) - 1


def test_huffman_single_word():
    tree = huffman_tree(np.array([7]))
    assert tree.lengths.tolist() == [0]

"""Huffman tree over the vocabulary for hierarchical softmax (Mikolov et al. 2013, sec. 2.1).

    tree = huffman_tree(vocab.counts)
    tree.points[w, :tree.lengths[w]]   # inner nodes (rows of syn1) from the root to w
    tree.codes[w, :tree.lengths[w]]    # the branch taken at each of them (0 or 1)

Built as in word2vec.c's CreateBinaryTree: with counts sorted in decreasing order the two
smallest nodes always sit at the ends of two sorted queues (the leaves, read backwards, and
the new inner nodes, read forwards), so the tree takes O(V) after the sort. Inner node
V + a gets row a of syn1; the root is row V - 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechlang.errors import DataError


@dataclass(frozen=True)
class HuffmanTree:
    codes: np.ndarray    # (V, max_len) uint8, branch bits from the root
    points: np.ndarray   # (V, max_len) int32, inner-node rows from the root
    lengths: np.ndarray  # (V,) int32, code length of each word

    @property
    def n_inner(self) -> int:
        return max(len(self.lengths) - 1, 0)

    def code(self, w: int) -> str:
        """The code of word w as a string of '0'/'1' (for tests and display)."""
        return "".join(map(str, self.codes[w, : self.lengths[w]].tolist()))


def huffman_tree(counts) -> HuffmanTree:
    """Huffman codes for words with the given counts ((V,) positive ints, any order)."""
    counts = np.asarray(counts, dtype=np.int64)
    v = counts.shape[0]
    if v == 0:
        raise DataError("cannot build a Huffman tree over an empty vocabulary")
    if (counts <= 0).any():
        raise DataError("Huffman tree: every count must be positive")
    if v == 1:
        return HuffmanTree(np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int32), np.zeros(1, np.int32))
    order = np.argsort(-counts, kind="stable")  # leaf slot -> word
    count = np.empty(2 * v - 1, dtype=np.int64)
    count[:v] = counts[order]
    parent = np.zeros(2 * v - 1, dtype=np.int64)
    binary = np.zeros(2 * v - 1, dtype=np.uint8)
    pos1, pos2 = v - 1, v  # next leaf (backwards), next inner node (forwards)
    for a in range(v - 1):
        pair = []
        for _ in range(2):
            if pos1 >= 0 and (pos2 >= v + a or count[pos1] < count[pos2]):
                pair.append(pos1)
                pos1 -= 1
            else:
                pair.append(pos2)
                pos2 += 1
        count[v + a] = count[pair[0]] + count[pair[1]]
        parent[pair[0]] = parent[pair[1]] = v + a
        binary[pair[1]] = 1
    root = 2 * v - 2
    # code length of each node = depth; parents have higher indices than children
    depth = np.zeros(2 * v - 1, dtype=np.int64)
    for node in range(root - 1, -1, -1):
        depth[node] = depth[parent[node]] + 1
    max_len = int(depth[:v].max())
    codes = np.zeros((v, max_len), dtype=np.uint8)
    points = np.zeros((v, max_len), dtype=np.int32)
    lengths = np.zeros(v, dtype=np.int32)
    for slot in range(v):
        w, n, node = order[slot], depth[slot], slot
        lengths[w] = n
        for i in range(n - 1, -1, -1):
            codes[w, i] = binary[node]
            node = parent[node]
            points[w, i] = node - v
    return HuffmanTree(codes, points, lengths)

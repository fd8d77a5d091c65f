"""Counting: hand-checked counts, brute force on random corpora, spilled == in memory == workers."""

from __future__ import annotations

import errno
from collections import Counter

import numpy as np
import pytest

from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.ngram import _kernels as K
from speechlang.ngram.adjust import build_tables
from speechlang.ngram.count import CountConfig, count_ngrams, parse_memory
from speechlang.ngram.parallel import count_parallel, split_lines


def brute_counts(lines, order):
    """Raw counts of every n-gram (n <= order) of `<s> w1 .. wk </s>`, `<s>` only first."""
    out = Counter()
    for line in lines:
        toks = ["<s>"] + line.split() + ["</s>"]
        for i in range(1, len(toks)):
            for n in range(1, order + 1):
                if i - n + 1 >= 0:
                    out[tuple(toks[i - n + 1:i + 1])] += 1
    return out


def table_counts(counts):
    out = {}
    for t in build_tables(counts):
        for row, c in zip(t.words.tolist(), t.count.tolist(), strict=True):
            if c:
                out[tuple(counts.vocab[i] for i in row)] = c
    return out


def test_hand_checked_counts():
    # the corpus of kenlm's corpus_count_test, one sentence per line
    c = count_ngrams(["looking on a little more loin", "on a little more loin also on",
                      "a little more loin also on a", "little more loin also on a little"],
                     CountConfig(order=3))
    assert c.vocab[:3] == ["<unk>", "<s>", "</s>"]
    assert c.vocab[3:] == ["looking", "on", "a", "little", "more", "loin", "also"]
    got = table_counts(c)
    assert got[("a", "little", "more")] == 3
    assert got[("<s>", "on", "a")] == 1
    assert got[("on", "a")] == 4
    assert got[("<s>", "looking")] == 1
    assert got[("on",)] == 5
    assert got[("</s>",)] == 4
    assert ("<s>", "<s>", "looking") not in got
    # padded 3-grams: one per token after <s>, so their counts add up to the tokens
    assert c.counts.sum() == c.tokens == 7 + 8 + 8 + 8
    assert c.sentences == 4


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_counts_equal_brute_force(make_corpus, order):
    lines = make_corpus(300, 40, seed=order)
    c = count_ngrams(lines, CountConfig(order=order))
    assert table_counts(c) == dict(brute_counts(lines, order))


def test_grams_sorted_in_suffix_order(corpus):
    c = count_ngrams(corpus, CountConfig(order=4))
    keys = [tuple(reversed(r)) for r in c.grams.tolist()]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_spilled_equals_in_memory(make_corpus):
    lines = make_corpus(3000, 300, seed=11)
    a = count_ngrams(lines, CountConfig(order=4))
    b = count_ngrams(lines, CountConfig(order=4, memory=1 << 16))
    assert a.spilled == 0 and b.spilled >= 3
    assert a.vocab == b.vocab
    np.testing.assert_array_equal(a.grams, b.grams)
    np.testing.assert_array_equal(a.counts, b.counts)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_equal_one_process(tmp_path, make_corpus, workers):
    lines = make_corpus(2000, 200, seed=7)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    a = count_ngrams(str(path), CountConfig(order=3))
    b = count_parallel(str(path), CountConfig(order=3), workers)
    assert a.vocab == b.vocab and a.tokens == b.tokens and a.sentences == b.sentences
    np.testing.assert_array_equal(a.grams, b.grams)
    np.testing.assert_array_equal(a.counts, b.counts)


def test_split_lines_covers_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"aa bb\ncc\n\ndd ee ff\ngg\n")
    parts = split_lines(str(path), 3)
    assert parts[0][0] == 0 and parts[-1][1] == path.stat().st_size
    data = path.read_bytes()
    for (a, b, line), nxt in zip(parts, parts[1:] + [None], strict=True):
        assert a == 0 or data[a - 1:a] == b"\n"
        assert line == data[:a].count(b"\n") + 1
        if nxt:
            assert b == nxt[0]


def test_worker_error_names_global_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"a b\n" * 50 + b"a \xff b\n" + b"c d\n" * 50)
    with pytest.raises(FormatError, match=r"c.txt:51:"):
        count_parallel(str(path), CountConfig(order=2), 2)


def test_radix_sort_large_ids():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 200_000, size=(500, 3)).astype(np.int32)
    counts = np.arange(500, dtype=np.int64)
    s, c = K.radix_sort_suffix(rows.copy(), counts.copy(), 200_000)
    order = np.lexsort(rows.T)  # last column is the primary key
    np.testing.assert_array_equal(s, rows[order])
    np.testing.assert_array_equal(c, counts[order])


def test_bad_input():
    with pytest.raises(DataError, match="empty"):
        count_ngrams([], CountConfig(order=3))
    with pytest.raises(DataError, match=r"<lines>:2: .*<s>"):
        count_ngrams(["a b", "<s>"], CountConfig(order=3))
    with pytest.raises(ConfigError):
        CountConfig(order=0)
    with pytest.raises(FormatError, match=r":2: invalid UTF-8"):
        count_ngrams([b"a b\n", b"a \xff\n"], CountConfig(order=2))
    c = count_ngrams([b"a b\n", b"a \xff\n"], CountConfig(order=2, encoding_errors="replace"))
    assert "\ufffd" in c.vocab


def test_long_line_and_one_word_vocab():
    c = count_ngrams([" ".join(["x"] * 300_000)], CountConfig(order=3))
    got = table_counts(c)
    assert got[("x", "x", "x")] == 299_998 and got[("<s>", "x")] == 1


def test_disk_full_while_spilling(monkeypatch, make_corpus):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(DataError, match="No space left on device.*--temp-dir"):
        count_ngrams(make_corpus(3000, 300, seed=1), CountConfig(order=3, memory=1 << 16))


def test_parse_memory():
    assert parse_memory("500M") == 500 << 20
    assert parse_memory("2G") == 2 << 30
    assert parse_memory("64k") == 64 << 10
    assert 0 < parse_memory("10%")
    with pytest.raises(ConfigError):
        parse_memory("lots")


def test_count_past_31_bits():
    # counts live in two int32 columns: low 31 bits, then the rest
    slots = np.zeros((16, 3), np.int32)  # order 1: word id, count low, count high
    tokens, ends = np.array([5, 2], np.int32), np.array([2], np.int64)
    n, _, _ = K.hash_count_padded(tokens, ends, 1, 1, slots, 0, 10, 0, 0)
    row = int(np.flatnonzero(slots[:, 0] == 5)[0])
    slots[row, 1] = 2**31 - 1
    n, _, _ = K.hash_count_padded(tokens, ends, 1, 1, slots, n, 10, 0, 0)
    rows, counts = K.compact(slots, n)
    got = dict(zip(rows[:, 0].tolist(), counts.tolist(), strict=True))
    assert n == 2 and got == {5: 2**31, 2: 2}

"""The n-gram counts text format (SRILM's `ngram-count -write`): `w1 ... wn<TAB>count` per line.

    write_counts(build_tables(counts), counts.vocab, "counts.txt"); read_counts("counts.txt")

Orders 1..N one after the other, each in suffix order (unigrams by word id); raw counts of
the n-grams of the text, `<s>` included as a context (its unigram count is the number of
sentences), `<unk>` only when the text holds it.
"""

from __future__ import annotations

import os
from typing import IO

import numpy as np

from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_output, display_name, iter_lines
from speechlang.ngram._kernels import format_count_lines
from speechlang.ngram.count import BOS_ID


def write_counts(tables, vocab: list[str], sentences: int, path_or_stream: str | os.PathLike | IO | None) -> None:
    """Write every n-gram with a non-zero count (tables from adjust.build_tables)."""
    enc = [w.encode("utf-8", "surrogateescape") for w in vocab]
    off = np.zeros(len(enc) + 1, np.int64)
    off[1:] = np.cumsum([len(w) for w in enc])
    vb = np.frombuffer(b"".join(enc), np.uint8)

    def chunks():
        for n, t in enumerate(tables, 1):
            count = t.count.copy()
            if n == 1:
                count[BOS_ID] = sentences
            keep = count > 0
            w = np.ascontiguousarray(t.words[keep], dtype=np.int32)
            c = np.ascontiguousarray(count[keep])
            for s in range(0, len(c), 1 << 20):
                yield format_count_lines(w[s:s + (1 << 20)], vb, off, c[s:s + (1 << 20)]).tobytes()

    if path_or_stream is None or isinstance(path_or_stream, (str, os.PathLike)):
        with atomic_output(path_or_stream, "wb") as f:
            for ch in chunks():
                f.write(ch)
    else:
        for ch in chunks():
            path_or_stream.write(ch)


def read_counts(path: str | os.PathLike | None) -> dict[tuple[str, ...], int]:
    """{(w1, ..., wn): count} from a counts file; FormatError naming the line on a bad one, DataError if empty."""
    out: dict[tuple[str, ...], int] = {}
    for lineno, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        words, sep, c = line.rpartition("\t")
        try:
            count = int(c)
        except ValueError:
            count = -1
        if not sep or count < 0 or not words.split():
            raise FormatError(f"{path}:{lineno}: expected 'w1 ... wn<TAB>count', found {line[:60]!r}")
        out[tuple(words.split())] = count
    if not out:
        raise DataError(f"{display_name(path)}: no n-gram counts (empty file); write one with `speechlang ngram count`")
    return out


def write_ngram_counts(counts, path_or_stream) -> None:
    """Write the counts of every order from padded N-gram counts (count.NgramCounts)."""
    from speechlang.ngram.adjust import build_tables

    write_counts(build_tables(counts), counts.vocab, counts.sentences, path_or_stream)

"""Counting n-grams in several processes: split the file, count each part, merge.

    counts = count_parallel("corpus.txt", CountConfig(order=5), workers=2)

The file is cut at line boundaries into `workers` parts of about equal size; each process
counts its part (`count.count_ngrams`, with memory / workers) and returns its vocabulary and
sorted padded N-gram counts. The parent numbers the words as one process would (first
occurrence in file order, because the parts are in file order), maps each part's ids,
re-sorts, and merges the parts adding the counts: the result equals `count_ngrams` on the
whole file, array for array.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from speechlang.errors import ConfigError, DataError
from speechlang.io import GZIP_MAGIC, STDIO
from speechlang.ngram import _kernels as K
from speechlang.ngram.count import CountConfig, NgramCounts, count_ngrams


def split_lines(path: str, parts: int) -> list[tuple[int, int, int]]:
    """(start byte, end byte, first line number) of up to `parts` line-aligned pieces."""
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            pos = max(size * k // parts, bounds[-1])
            f.seek(pos)
            if pos > 0:
                f.seek(pos - 1)
                f.readline()  # move to the start of the next line
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    out, line = [], 1
    with open(path, "rb") as f:
        for a, b in zip(bounds, bounds[1:], strict=False):
            if b > a or not out:
                out.append((a, b, line))
            f.seek(a)
            remaining = b - a
            while remaining > 0:
                chunk = f.read(min(remaining, 1 << 24))
                line += chunk.count(b"\n")
                remaining -= len(chunk)
    return out


def _count_part(args) -> tuple[list[str], str, str, int, int]:
    path, start, end, first_line, cfg, tmp, k = args
    c = count_ngrams(path, cfg, first_line=first_line, byte_range=(start, end))
    rows_path, counts_path = f"{tmp}/part{k}.rows.npy", f"{tmp}/part{k}.counts.npy"
    np.save(rows_path, c.grams)
    np.save(counts_path, c.counts)
    return c.vocab, rows_path, counts_path, c.tokens, c.sentences


def count_parallel(source, config: CountConfig, workers: int) -> NgramCounts:
    """`count_ngrams` over `workers` processes; source must be a plain (not gzip) file."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, not {workers}")
    if source in STDIO or not isinstance(source, (str, os.PathLike)):
        raise ConfigError("--workers > 1 needs a file to split: pass it with --input FILE")
    path = str(source)
    if not Path(path).is_file():
        raise DataError(f"cannot read {path}: no such file")
    with open(path, "rb") as f:
        if f.read(2) == GZIP_MAGIC:
            raise ConfigError(f"--workers > 1 cannot split the gzip file {path}; decompress it first")
    parts = split_lines(path, workers)
    cfg = replace(config, memory=max(config.memory // len(parts), 1 << 16))
    # load the compiled kernels once here, so the forked workers inherit them
    count_ngrams([b"a b"], replace(config, memory=1 << 20))
    with tempfile.TemporaryDirectory(prefix="speechlang-ngram-", dir=config.temp_dir) as tmp:
        jobs = [(path, a, b, line, cfg, tmp, k) for k, (a, b, line) in enumerate(parts)]
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        with mp.get_context(method).Pool(len(jobs)) as pool:
            results = pool.map(_count_part, jobs)
        vocab: dict[str, int] = {}
        merged = None
        tokens = sentences = 0
        for words, rows_path, counts_path, n_tok, n_sent in results:
            for w in words:
                vocab.setdefault(w, len(vocab))
            remap = np.array([vocab[w] for w in words], dtype=np.int32)
            rows, counts = np.load(rows_path), np.load(counts_path)
            if (remap != np.arange(len(remap))).any():  # ids change: map them and sort again
                rows = remap[rows]
                rows, counts = K.radix_sort_suffix(rows, counts, len(vocab) - 1)
            if merged is None:
                merged = (rows, counts)
            else:
                out = np.empty((len(rows) + len(merged[0]), config.order), np.int32)
                cout = np.empty(len(out), np.int64)
                k = K.merge_two(merged[0], merged[1], rows, counts, out, cout)
                merged = (out[:k].copy(), cout[:k].copy())
            tokens += n_tok
            sentences += n_sent
    if sentences == 0:
        raise DataError(f"{path}: no text to count (the input is empty)")
    return NgramCounts(config.order, list(vocab), merged[0], merged[1], tokens, sentences)

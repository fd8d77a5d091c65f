"""Corpus: one streaming pass over tokenized text that counts words and spools token ids.

    with TokenCorpus.build(["corpus.txt"], min_count=5, temp_dir=None) as corpus:
        corpus.vocab, corpus.tokens   # Vocab, (N,) int32 np.memmap; -1 ends a sentence

Input is whitespace-tokenized UTF-8 text, one sentence per line (files or stdin, gzip ok).
The single pass writes provisional ids (in first-seen order) to a temporary file, so stdin
needs no second read; a chunked remap then writes the final ids (vocabulary order, words
under min-count dropped) into one flat memmap (nanoGPT's `train.bin`). Memory holds the
vocabulary and one chunk, never the corpus.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from speechlang.io import display_name, iter_lines
from speechlang.w2v.vocab import Vocab, select_words

SENTENCE_END = -1
_CHUNK = 1 << 20  # token ids per write/remap block


class TokenCorpus:
    """A spooled corpus: `vocab`, `tokens` ((N,) int32 memmap, -1 = sentence end),
    `raw_words` (all tokens read, before min-count). Use as a context manager: the
    temporary directory is removed on exit."""

    def __init__(self, vocab: Vocab, tokens: np.ndarray, raw_words: int, tmp: str | None):
        self.vocab, self.tokens, self.raw_words, self._tmp = vocab, tokens, raw_words, tmp

    @classmethod
    def build(cls, inputs: Sequence[str | os.PathLike | None], *, min_count: int = 5,
              temp_dir: str | None = None) -> TokenCorpus:
        inputs = list(inputs) or ["-"]
        tmp = tempfile.mkdtemp(prefix="speechlang-w2v-", dir=temp_dir)
        try:
            return cls._build(inputs, min_count, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def _build(cls, inputs, min_count: int, tmp: str) -> TokenCorpus:
        ids: dict[str, int] = {}
        counts: list[int] = []
        raw_path = Path(tmp, "provisional.i32")
        buf: list[int] = []
        with open(raw_path, "wb") as raw:
            for path in inputs:
                for line in iter_lines(path):
                    for w in line.split():
                        i = ids.get(w)
                        if i is None:
                            i = ids[w] = len(counts)
                            counts.append(0)
                        counts[i] += 1
                        buf.append(i)
                    buf.append(SENTENCE_END)
                    if len(buf) >= _CHUNK:
                        np.asarray(buf, dtype=np.int32).tofile(raw)
                        buf.clear()
            np.asarray(buf, dtype=np.int32).tofile(raw)
        names = " + ".join(display_name(p) for p in inputs)
        words = list(ids)
        del ids
        counts_arr = np.asarray(counts, dtype=np.int64)
        order = select_words(counts_arr, min_count, names)
        vocab = Vocab([words[i] for i in order], counts_arr[order])
        # provisional id -> final id (vocabulary order), -2 for words under min-count;
        # the last slot maps the sentence end (-1) to itself
        remap = np.full(len(counts) + 1, -2, dtype=np.int32)
        remap[order] = np.arange(order.size, dtype=np.int32)
        remap[-1] = SENTENCE_END
        prov = np.memmap(raw_path, dtype=np.int32, mode="r")
        out_path = Path(tmp, "tokens.i32")
        n = 0
        with open(out_path, "wb") as out:
            for s in range(0, prov.shape[0], _CHUNK):
                mapped = remap[prov[s:s + _CHUNK]]
                mapped = mapped[mapped != -2]
                mapped.tofile(out)
                n += mapped.shape[0]
        del prov
        raw_path.unlink()
        tokens = np.memmap(out_path, dtype=np.int32, mode="r", shape=(n,)) if n else np.zeros(0, np.int32)
        return cls(vocab, tokens, int(counts_arr.sum()), tmp)

    @classmethod
    def from_sentences(cls, sentences: Sequence[Sequence[str]], *, min_count: int = 1) -> TokenCorpus:
        """An in-memory corpus (for tests and small data): lists of tokens per sentence."""
        counts: dict[str, int] = {}
        for s in sentences:
            for w in s:
                counts[w] = counts.get(w, 0) + 1
        vocab = Vocab.from_counts(list(counts), list(counts.values()), min_count=min_count)
        index = vocab.index()
        toks: list[int] = []
        for s in sentences:
            toks.extend(index[w] for w in s if w in index)
            toks.append(SENTENCE_END)
        return cls(vocab, np.asarray(toks, dtype=np.int32), sum(counts.values()), None)

    @property
    def train_words(self) -> int:
        """Tokens in the vocabulary (word2vec.c's train_words)."""
        return self.vocab.total

    def close(self) -> None:
        self.tokens = np.zeros(0, np.int32)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> TokenCorpus:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_sentences(path: str | os.PathLike | None):
    """Yield the token lists of a tokenized text, one per non-empty line."""
    for line in iter_lines(path):
        toks = line.split()
        if toks:
            yield toks

"""Counting n-grams in bounded memory: `<s>`-padded order-N grams, sorted runs spilled and merged.

    counts = count_ngrams(open("corpus.txt", "rb"), CountConfig(order=3, memory=500 << 20))

As KenLM's lmplz (`lm/builder/corpus_count.cc`): every line is a sentence `<s> w1 ... wk </s>`
(empty lines too); the vocabulary is numbered `<unk>`=0, `<s>`=1, `</s>`=2, then words in order
of first occurrence; for every token after `<s>` the N-gram ending there is counted, with
`<s>` repeated to fill the positions before the sentence start. Every lower-order n-gram of the
text is a suffix of exactly one such padded N-gram occurrence, so these counts hold all orders
(see `adjust.py`).

Counting goes through a hash table (numba). When the table would outgrow `memory`, its
contents are sorted in suffix order and written to `temp_dir` as a run; at the end the runs are
merged pairwise (also on disk). The result is the same whether or not anything spilled.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import STDIO, display_name, open_input
from speechlang.ngram import _kernels as K
from speechlang.ngram.arpa import BOS, EOS, UNK

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
LOAD = 0.7  # hash table load factor before it grows (or spills)


@dataclass(frozen=True)
class CountConfig:
    """Options of `count_ngrams`."""

    order: int = 3  # highest n-gram order N (>= 1)
    memory: int = 1 << 30  # bytes for the count table; beyond it sorted runs spill to disk
    temp_dir: str | None = None  # directory for spilled runs (default: the system temp dir)
    encoding_errors: str = "strict"  # strict: bad UTF-8 is an error naming the line; replace

    def __post_init__(self) -> None:
        if self.order < 1:
            raise ConfigError(f"--order must be at least 1, not {self.order}")
        if self.memory < 1 << 16:
            raise ConfigError(f"--memory {self.memory} bytes is too small; give at least 64K")
        if self.encoding_errors not in ("strict", "replace"):
            raise ConfigError(f"--encoding-errors must be strict or replace, not {self.encoding_errors}")


@dataclass
class NgramCounts:
    """Counts of the `<s>`-padded order-N grams.

    vocab: id -> word (0 `<unk>`, 1 `<s>`, 2 `</s>`); grams: (M, N) int32 word ids, unique,
    in suffix order; counts: (M,) int64; tokens: words + one `</s>` per sentence;
    sentences: lines read; spilled: how many sorted runs went to disk.
    """

    order: int
    vocab: list[str]
    grams: np.ndarray
    counts: np.ndarray
    tokens: int
    sentences: int
    spilled: int = 0


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_memory(text: str | int) -> int:
    """Bytes from '500M', '2G', '64k', '1048576' or '50%' (of physical memory)."""
    if isinstance(text, int):
        return text
    s = str(text).strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtb%]?)b?", s)
    if not m:
        raise ConfigError(f"--memory {text!r}: expected a size such as 500M, 2G or 50%")
    x, unit = float(m.group(1)), m.group(2)
    if unit == "%":
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(total * x / 100)
    return int(x * _UNITS[unit])


# ----------------------------------------------------------------------------------- counting

def _next_pow2(x: int) -> int:
    return 1 << max(10, int(x - 1).bit_length())


class _Table:
    """The hash table of padded N-gram counts, with its sorted runs on disk."""

    def __init__(self, order: int, memory: int, temp_dir: str | None):
        self.order, self.memory = order, memory
        self.slot_bytes = 4 * (order + 2)
        # start big (zeroed pages cost nothing until touched) to save rehashing while it grows
        cap = 1 << 10
        while cap < 1 << 20 and 2 * cap * self.slot_bytes <= memory // 2:
            cap *= 2
        self.slots = np.zeros((cap, order + 2), np.int32)  # word ids, count low, count high
        self.n_used = 0
        self.runs: list[Path] = []
        self._temp_parent = temp_dir
        self._tmp: Path | None = None

    @property
    def tmp(self) -> Path:
        if self._tmp is None:
            parent = self._temp_parent or tempfile.gettempdir()
            if not Path(parent).is_dir():
                raise DataError(f"--temp-dir {parent} does not exist")
            self._tmp = Path(tempfile.mkdtemp(prefix="speechlang-ngram-", dir=parent))
        return self._tmp

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def add(self, tokens: np.ndarray, ends: np.ndarray, max_id: int) -> None:
        """Count the padded N-grams of these sentences; max_id: the largest word id so far."""
        s, i = 0, 0
        while s < len(ends):
            max_used = int(LOAD * len(self.slots))
            if self.n_used >= max_used:
                if 2 * len(self.slots) * self.slot_bytes > self.memory and self.n_used > 0:
                    self.spill(max_id)
                else:
                    self._grow(2 * len(self.slots))
                continue
            self.n_used, s, i = K.hash_count_padded(tokens, ends, self.order, BOS_ID, self.slots,
                                                    self.n_used, max_used, s, i)
            s, i = int(s), int(i)

    def _grow(self, cap: int) -> None:
        slots = np.zeros((cap, self.order + 2), np.int32)
        K.rehash(self.slots, slots)
        self.slots = slots

    def _sorted(self, max_id: int, free: bool = False) -> tuple[np.ndarray, np.ndarray]:
        rows, counts = K.compact(self.slots, self.n_used)
        if free:  # the table is not needed any more: drop it before sorting
            self.slots = None
        return K.radix_sort_suffix(rows, counts, max_id)

    def spill(self, max_id: int) -> None:
        rows, counts = self._sorted(max_id)
        stem = self.tmp / f"run{len(self.runs):05d}"
        try:
            np.save(f"{stem}.rows.npy", rows)
            np.save(f"{stem}.counts.npy", counts)
        except OSError as e:
            raise DataError(f"cannot spill sorted counts to {self.tmp}: {e.strerror or e}; free "
                            "disk space, pick another --temp-dir or raise --memory") from None
        self.runs.append(stem)
        self.slots[:] = 0
        self.n_used = 0

    def finish(self, max_id: int) -> tuple[np.ndarray, np.ndarray]:
        """All counts as unique (rows, counts) in suffix order (memory-mapped when spilled)."""
        if not self.runs:
            return self._sorted(max_id, free=True)
        if self.n_used:
            self.spill(max_id)
        self.slots = None  # free the table before merging
        runs = [self._load(p) for p in self.runs]
        level = 0
        while len(runs) > 1:
            merged = []
            for j in range(0, len(runs) - 1, 2):
                merged.append(self._merge(runs[j], runs[j + 1], f"merge{level}_{j}"))
            if len(runs) % 2:
                merged.append(runs[-1])
            runs = merged
            level += 1
        return runs[0]

    @staticmethod
    def _load(stem: Path) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(np.load(f"{stem}.rows.npy", mmap_mode="r")),
                np.asarray(np.load(f"{stem}.counts.npy", mmap_mode="r")))

    def _merge(self, a, b, name: str) -> tuple[np.ndarray, np.ndarray]:
        n = len(a[0]) + len(b[0])
        try:
            out = np.lib.format.open_memmap(self.tmp / f"{name}.rows.npy", "w+", np.int32,
                                            (max(n, 1), self.order))
            cout = np.lib.format.open_memmap(self.tmp / f"{name}.counts.npy", "w+", np.int64,
                                             (max(n, 1),))
            k = K.merge_two(a[0], a[1], b[0], b[1], np.asarray(out), np.asarray(cout))
            out.flush()
            cout.flush()
        except OSError as e:
            raise DataError(f"cannot merge sorted counts in {self.tmp}: {e.strerror or e}; free "
                            "disk space, pick another --temp-dir or raise --memory") from None
        return np.asarray(out)[:k], np.asarray(cout)[:k]


BLOCK = 4 << 20  # bytes of text tokenized per kernel call


class _Vocab:
    """Word -> id in first-occurrence order, held in arrays for the tokenizer kernel."""

    def __init__(self) -> None:
        self.pool = np.zeros(1 << 16, np.uint8)
        self.off = np.zeros((1 << 12) + 1, np.int64)
        self.n = 0
        for w in (UNK, BOS, EOS):
            b = np.frombuffer(w.encode(), np.uint8)
            self.pool[self.off[self.n]:self.off[self.n] + len(b)] = b
            self.off[self.n + 1] = self.off[self.n] + len(b)
            self.n += 1
        self._rehash(1 << 12)

    @property
    def max_words(self) -> int:
        return int(LOAD * len(self.vt_id))

    def _rehash(self, cap: int) -> None:
        self.vt_id = np.full(cap, -1, np.int32)
        self.vt_hash = np.zeros(cap, np.uint64)
        if len(self.off) < cap + 1:
            off = np.zeros(cap + 1, np.int64)
            off[: self.n + 1] = self.off[: self.n + 1]
            self.off = off
        K.rehash_words(self.pool, self.off, self.n, self.vt_id, self.vt_hash)

    def grow(self) -> None:
        self._rehash(2 * len(self.vt_id))

    def reserve(self, nbytes: int) -> None:
        need = int(self.off[self.n]) + nbytes
        if len(self.pool) < need:
            pool = np.zeros(max(need, 2 * len(self.pool)), np.uint8)
            pool[: len(self.pool)] = self.pool
            self.pool = pool

    def words(self) -> list[str]:
        data = self.pool[: self.off[self.n]].tobytes()
        off = self.off[: self.n + 1].tolist()
        return [data[a:b].decode("utf-8", "replace") for a, b in zip(off, off[1:], strict=False)]


def _blocks(source, block: int, byte_range: tuple[int, int] | None = None) -> Iterator[bytes]:
    """Blocks of whole lines, each ending in a newline, from a path (or its bytes
    [start, end) of a plain file) or an iterable of lines."""
    if source is None or isinstance(source, (str, os.PathLike)):
        f = open_input(source)
        left = -1
        if byte_range is not None:
            f.seek(byte_range[0])
            left = byte_range[1] - byte_range[0]
        try:
            carry = b""
            while True:
                chunk = f.read(block if left < 0 else min(block, left))
                if left >= 0:
                    left -= len(chunk)
                if not chunk:
                    if carry:
                        yield carry + b"\n"
                    return
                data = carry + chunk if carry else chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    carry = data
                    continue
                yield data[:cut]
                carry = data[cut:]
        finally:
            if source not in STDIO:
                f.close()
    buf: list[bytes] = []
    size = 0
    for line in source:
        b = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)
        b = b.rstrip(b"\r\n")
        if b"\n" in b:
            b = b.replace(b"\n", b" ")
        buf.append(b)
        size += len(b) + 1
        if size >= block:
            yield b"\n".join(buf) + b"\n"
            buf, size = [], 0
    if buf:
        yield b"\n".join(buf) + b"\n"


def _check_utf8(data: bytes, name: str, line0: int, encoding_errors: str) -> bytes:
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as e:
        if encoding_errors != "strict":
            return data.decode("utf-8", "replace").encode("utf-8")
        line = line0 + data.count(b"\n", 0, e.start)
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise FormatError(f"{name}:{line}: invalid UTF-8 (byte 0x{data[e.start]:02x} at column "
                          f"{col}); fix the text or pass --encoding-errors replace") from None


def count_ngrams(source, config: CountConfig = CountConfig(), name: str | None = None,
                 first_line: int = 1, byte_range: tuple[int, int] | None = None) -> NgramCounts:
    """Count the `<s>`-padded order-N grams of a corpus (one sentence per line).

    source: a path ('-' = stdin, gzip is decompressed) or an iterable of lines (str or bytes).
    Words are separated by ASCII whitespace. Raises FormatError on invalid UTF-8 (unless
    config.encoding_errors is "replace") and DataError on empty input and on `<s>`/`</s>`
    inside a line, naming the line. byte_range=(start, end) counts only those bytes of a
    plain file (whole lines; first_line is then the line number at start).
    """
    is_path = source is None or isinstance(source, (str, os.PathLike))
    name = name or (display_name(source) if is_path else "<lines>")
    vocab = _Vocab()
    table = _Table(config.order, config.memory, config.temp_dir)
    block = int(min(BLOCK, max(1 << 16, config.memory // 8)))
    n_tokens = n_sent = 0
    line0 = first_line
    try:
        try:
            for data in _blocks(source, block, byte_range):
                data = _check_utf8(data, name, line0, config.encoding_errors)
                buf = np.frombuffer(data, np.uint8)
                vocab.reserve(len(buf))
                tokens = np.empty(len(buf) + 1, np.int32)
                ends = np.empty(data.count(b"\n"), np.int64)
                pos = n_tok = n_lines = 0
                while True:
                    status, pos, n_tok, n_lines, vocab.n = K.tokenize_block(
                        buf, vocab.pool, vocab.off, vocab.n, vocab.vt_id, vocab.vt_hash, tokens,
                        ends, EOS_ID, pos, n_tok, n_lines, vocab.max_words)
                    if status == 0:
                        break
                    if status == 1:
                        vocab.grow()
                        continue
                    text = data[pos:data.find(b"\n", pos)].split()
                    bad = BOS if BOS.encode() in text else EOS
                    raise DataError(f"{name}:{line0 + n_lines}: the text contains {bad}, which "
                                    "marks sentence boundaries; remove it (every line is one "
                                    "sentence already)")
                table.add(tokens[:n_tok], ends[:n_lines], vocab.n - 1)
                n_tokens += n_tok
                n_sent += n_lines
                line0 += n_lines
        except (OSError, EOFError) as e:
            if isinstance(e, EOFError) or "gzip" in type(e).__name__.lower():
                raise FormatError(f"{name}: truncated or corrupt gzip data ({e})") from None
            raise
        if n_sent == 0:
            raise DataError(f"{name}: no text to count (the input is empty)")
        if vocab.n > np.iinfo(np.int32).max:
            raise DataError(f"{name}: more than 2^31 word types")
        rows, counts = table.finish(vocab.n - 1)
        spilled = len(table.runs)
        if spilled:  # bring the merged result into memory; the temp files go away
            rows, counts = np.array(rows), np.array(counts)
    finally:
        table.close()
    return NgramCounts(config.order, vocab.words(), rows, counts, n_tokens, n_sent, spilled)

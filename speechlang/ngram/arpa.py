"""The ARPA back-off language model format: reader, writer and validator (the only code that parses it).

    lm = read_arpa("lm.arpa"); write_arpa(lm, "copy.arpa")

Layout (as written by KenLM's lmplz and SRILM, read by `kenlm.Model`):

    \\data\\
    ngram 1=N1
    ...
    \\1-grams:
    log10_prob<TAB>w<TAB>log10_backoff
    ...
    \\N-grams:
    log10_prob<TAB>w1 ... wN
    \\end\\

Anything before `\\data\\` is ignored (SRILM writes a comment there); the backoff column is
optional and means 0.0 when absent; the highest order has none.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from speechlang.errors import FormatError
from speechlang.io import GZIP_ERRORS, GZIP_MAGIC, STDIO, atomic_output, display_name, open_input

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


@dataclass
class ArpaLM:
    """A back-off n-gram model.

    order: highest n-gram order N.
    ngrams: ngrams[n-1][(w1, ..., wn)] = (log10 prob, log10 backoff; 0.0 when absent).
    """

    order: int
    ngrams: list[dict[tuple[str, ...], tuple[float, float]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.ngrams:
            self.ngrams = [{} for _ in range(self.order)]

    def counts(self) -> list[int]:
        """Number of n-grams of each order, [N1, ..., NN]."""
        return [len(d) for d in self.ngrams]

    @property
    def vocab(self) -> list[str]:
        """The unigram words, in model order."""
        return [w for (w,) in self.ngrams[0]]


# ----------------------------------------------------------------------------------------- read

def _lines(stream: IO, name: str) -> Iterator[tuple[int, str]]:
    """(line number, text without the line end) from a binary or text stream; bad UTF-8 names the line."""
    for lineno, raw in enumerate(stream, 1):
        if isinstance(raw, bytes):
            if lineno == 1 and raw[:2] == GZIP_MAGIC:
                raise FormatError(f"{name}:1: looks like a gzip file, not ARPA text; name it *.gz "
                                  f"or decompress it first (zcat {name} > lm.arpa)")
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise FormatError(f"{name}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at "
                                  f"column {e.start + 1}); an ARPA file must be UTF-8") from None
        yield lineno, raw.rstrip("\r\n")


def _parse_float(tok: str, name: str, lineno: int, what: str) -> float:
    try:
        x = float(tok)
    except ValueError:
        raise FormatError(f"{name}:{lineno}: expected a {what}, found {tok!r}") from None
    if math.isnan(x) or (what == "log10 probability" and x > 1e-4):
        raise FormatError(f"{name}:{lineno}: {what} {tok} is not a valid log10 value")
    return x


def _read(stream: IO, name: str) -> ArpaLM:
    lines = _lines(stream, name)
    lineno = 0
    # header: skip to \data\ then read "ngram n=count" lines
    for lineno, line in lines:
        if line.strip() == "\\data\\":
            break
        if line.startswith("\\"):
            raise FormatError(f"{name}:{lineno}: expected \\data\\ before {line.strip()!r}")
    else:
        if lineno == 0:
            raise FormatError(f"{name}:1: empty file, expected an ARPA language model")
        raise FormatError(f"{name}:{lineno}: no \\data\\ line; this is not an ARPA file")
    declared: list[int] = []
    section_line = None
    for lineno, line in lines:
        s = line.strip()
        if not s:
            continue
        if s.startswith("ngram "):
            key, _, val = s[6:].partition("=")
            try:
                n, c = int(key), int(val)
            except ValueError:
                raise FormatError(f"{name}:{lineno}: bad count line {s!r} (expected 'ngram N=COUNT')"
                                  ) from None
            if n != len(declared) + 1 or c < 0:
                raise FormatError(f"{name}:{lineno}: expected 'ngram {len(declared) + 1}=COUNT', "
                                  f"found {s!r}")
            declared.append(c)
            continue
        section_line = (lineno, s)
        break
    if not declared:
        raise FormatError(f"{name}:{lineno}: no 'ngram N=COUNT' lines after \\data\\")
    if section_line is None:
        raise FormatError(f"{name}:{lineno}: truncated: the file ends after the \\data\\ header")
    lm = ArpaLM(order=len(declared))
    lineno, s = section_line
    for n in range(1, lm.order + 1):
        if s != f"\\{n}-grams:":
            raise FormatError(f"{name}:{lineno}: expected \\{n}-grams:, found {s[:40]!r}")
        table = lm.ngrams[n - 1]
        has_backoff = n < lm.order
        got = 0
        s = None
        for lineno, line in lines:
            if not line.strip():
                continue
            if line.startswith("\\"):
                s = line.strip()
                break
            toks = line.split()
            if len(toks) == n + 1 or (has_backoff and len(toks) == n + 2):
                prob = _parse_float(toks[0], name, lineno, "log10 probability")
                bo = (_parse_float(toks[n + 1], name, lineno, "log10 backoff")
                      if len(toks) == n + 2 else 0.0)
            else:
                raise FormatError(f"{name}:{lineno}: a {n}-gram line needs a log10 probability, "
                                  f"{n} word(s){' and an optional backoff' if has_backoff else ''};"
                                  f" found {len(toks)} field(s)")
            got += 1
            if got > declared[n - 1]:
                raise FormatError(f"{name}:{lineno}: more {n}-grams than the {declared[n - 1]} "
                                  f"declared in the \\data\\ header")
            table[tuple(toks[1:n + 1])] = (prob, bo)
        if got != declared[n - 1]:
            raise FormatError(f"{name}:{lineno}: {got} {n}-grams found but the \\data\\ header "
                              f"declares {declared[n - 1]} (truncated or mis-counted file)")
        if len(table) != got:
            raise FormatError(f"{name}:{lineno}: duplicate {n}-grams in the {n}-gram section")
        if s is None:
            raise FormatError(f"{name}:{lineno}: truncated: no \\end\\ after the {n}-grams")
    if s != "\\end\\":
        raise FormatError(f"{name}:{lineno}: expected \\end\\, found {s[:40]!r}")
    return lm


def read_arpa(path_or_stream: str | os.PathLike | IO | None) -> ArpaLM:
    """Read an ARPA file (a path, '-' for stdin, or an open binary/text stream).

    A path ending in `.gz` is decompressed; any other gzip input, a truncated or mis-counted
    file, or bad UTF-8 raises FormatError naming the line.
    """
    if path_or_stream is None or isinstance(path_or_stream, (str, os.PathLike)):
        path = path_or_stream
        name = display_name(path)
        gz = path not in STDIO and str(path).endswith(".gz")
        stream = open_input(path, allow_gzip=gz)
        try:
            return _read(stream, name)
        except (*GZIP_ERRORS, OSError) as e:
            raise FormatError(f"{name}: truncated or corrupt gzip data ({e})") from None
        finally:
            if path not in STDIO:
                stream.close()
    name = getattr(path_or_stream, "name", "<stream>")
    return _read(path_or_stream, str(name))


# ---------------------------------------------------------------------------------------- write

def _fmt(x: float) -> str:
    if x == 0.0:
        return "0"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return repr(x)


def format_arpa(lm: ArpaLM) -> Iterator[str]:
    """The ARPA text of `lm`, in chunks (n-grams in the model's dict order)."""
    yield "\\data\\\n"
    for n, table in enumerate(lm.ngrams, 1):
        yield f"ngram {n}={len(table)}\n"
    for n, table in enumerate(lm.ngrams, 1):
        yield f"\n\\{n}-grams:\n"
        buf = []
        if n < lm.order:
            for words, (p, bo) in table.items():
                buf.append(f"{_fmt(p)}\t{' '.join(words)}\t{_fmt(bo)}\n")
                if len(buf) >= 65536:
                    yield "".join(buf)
                    buf = []
        else:
            for words, (p, _) in table.items():
                buf.append(f"{_fmt(p)}\t{' '.join(words)}\n")
                if len(buf) >= 65536:
                    yield "".join(buf)
                    buf = []
        yield "".join(buf)
    yield "\n\\end\\\n"


def write_arpa(lm: ArpaLM, path_or_stream: str | os.PathLike | IO | None) -> None:
    """Write `lm` as ARPA text to a path (atomically; '-' or None is stdout) or an open stream."""
    validate_arpa(lm)
    if path_or_stream is None or isinstance(path_or_stream, (str, os.PathLike)):
        with atomic_output(path_or_stream, "w") as f:
            for chunk in format_arpa(lm):
                f.write(chunk)
        return
    f = path_or_stream
    if not isinstance(f, io.TextIOBase) and "b" in getattr(f, "mode", "b"):
        for chunk in format_arpa(lm):
            f.write(chunk.encode("utf-8"))
    else:
        for chunk in format_arpa(lm):
            f.write(chunk)


ARRAY_DIGITS = 8  # decimals written by write_arpa_tables (absolute error <= 5e-9)


def write_arpa_tables(vocab: list[str], words: list, log10_prob: list, log10_backoff: list,
                      path_or_stream: str | os.PathLike | IO | None, chunk: int = 1 << 17) -> None:
    """Write a model held as arrays: words[n-1] (M_n, n) int32 ids into vocab, log10_prob and
    log10_backoff[n-1] (M_n,) float64. Same layout as write_arpa; values get 8 decimals."""
    import numpy as np

    from speechlang.ngram._kernels import format_arpa_lines

    order = len(words)
    if order < 1 or not len(words[0]):
        raise FormatError("ARPA model: no unigrams")
    enc = [w.encode("utf-8", "surrogateescape") for w in vocab]
    vocab_off = np.zeros(len(enc) + 1, np.int64)
    vocab_off[1:] = np.cumsum([len(w) for w in enc])
    vocab_bytes = np.frombuffer(b"".join(enc), np.uint8) if vocab_off[-1] else np.zeros(1, np.uint8)
    for n in range(order):
        for arr in (log10_prob[n], log10_backoff[n]):
            if np.isnan(arr).any() or np.isinf(arr).any():
                raise FormatError(f"ARPA model: non-finite log10 value among the {n + 1}-grams")

    def chunks():
        yield b"\\data\\\n"
        for n in range(order):
            yield f"ngram {n + 1}={len(words[n])}\n".encode()
        for n in range(order):
            yield f"\n\\{n + 1}-grams:\n".encode()
            w = np.ascontiguousarray(words[n], dtype=np.int32)
            p = np.ascontiguousarray(log10_prob[n], dtype=np.float64)
            b = np.ascontiguousarray(log10_backoff[n], dtype=np.float64)
            for s in range(0, len(w), chunk):
                yield format_arpa_lines(w[s:s + chunk], vocab_bytes, vocab_off, p[s:s + chunk],
                                        b[s:s + chunk], n + 1 < order, ARRAY_DIGITS).tobytes()
        yield b"\n\\end\\\n"

    if path_or_stream is None or isinstance(path_or_stream, (str, os.PathLike)):
        with atomic_output(path_or_stream, "wb") as f:
            for c in chunks():
                f.write(c)
        return
    f = path_or_stream
    text = isinstance(f, io.TextIOBase) or "b" not in getattr(f, "mode", "b")
    for c in chunks():
        f.write(c.decode("utf-8", "surrogateescape") if text else c)


def validate_arpa(lm: ArpaLM) -> None:
    """Check that `lm` can be written and loaded: orders, word shapes, finite values.

    Raises FormatError naming the first bad n-gram.
    """
    if lm.order < 1 or len(lm.ngrams) != lm.order:
        raise FormatError(f"ARPA model: order {lm.order} but {len(lm.ngrams)} n-gram tables")
    if not lm.ngrams[0]:
        raise FormatError("ARPA model: no unigrams")
    for n, table in enumerate(lm.ngrams, 1):
        for words, (p, bo) in table.items():
            if len(words) != n or any((not w) or any(c.isspace() for c in w) for w in words):
                raise FormatError(f"ARPA model: bad {n}-gram {words!r} (n words without whitespace)")
            if math.isnan(p) or p > 1e-6 or math.isnan(bo) or math.isinf(bo):
                raise FormatError(f"ARPA model: {' '.join(words)!r} has log10 prob {p} and backoff "
                                  f"{bo}; expected prob <= 0 and a finite backoff")


def missing_contexts(lm: ArpaLM) -> Iterator[tuple[str, ...]]:
    """The n-grams whose prefix (w1..wn-1) is absent: a well-formed back-off model has none."""
    for n in range(2, lm.order + 1):
        lower = lm.ngrams[n - 2]
        for words in lm.ngrams[n - 1]:
            if words[:-1] not in lower:
                yield words

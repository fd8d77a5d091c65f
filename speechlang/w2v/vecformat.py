"""The word2vec vectors format (word2vec.c `-output`, gensim `save_word2vec_format`).

    write_vectors("vectors.bin", words, vectors, binary=True)
    words, vectors = read_vectors("vectors.bin")       # text or binary, detected
    validate_vectors("vectors.txt")                     # -> (V, D) or FormatError

Both forms start with the header line `V D`. Text: one line per word, `word v1 ... vD`
(values written with 9 significant digits, which restores every float32 exactly).
Binary: `word`, one space, D little-endian float32 values, then a newline (word2vec.c writes
it, gensim does not: the reader accepts both). Words are UTF-8 without whitespace.
"""

from __future__ import annotations

import os

import numpy as np

from speechlang.errors import FormatError
from speechlang.io import GZIP_ERRORS, atomic_output, display_name, open_input

FORMATS = ("auto", "text", "binary")


def check_vectors(words, vectors: np.ndarray) -> np.ndarray:
    """Validate what is about to be written: unique words without whitespace, finite (V, D)."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words) or vectors.shape[1] < 1:
        raise FormatError(f"vectors have shape {vectors.shape}, expected ({len(words)}, dim >= 1)")
    if len(words) == 0:
        raise FormatError("no vectors to write")
    if not np.isfinite(vectors).all():
        raise FormatError("vectors hold NaN or inf values; the training diverged (lower --alpha)")
    if len(set(words)) != len(words):
        raise FormatError("duplicate words among the vectors")
    bad = next((w for w in words if not w or len(w.split()) != 1 or w != w.strip()), None)
    if bad is not None:
        raise FormatError(f"word {bad!r} is empty or holds whitespace; it cannot be written")
    return vectors.astype(np.float32, copy=False)


def write_vectors(path: str | os.PathLike | None, words, vectors: np.ndarray, *, binary: bool = False) -> None:
    """Write `words` (V,) and `vectors` (V, D) float32 atomically ('-'/None: stdout)."""
    vectors = check_vectors(words, vectors)
    v, d = vectors.shape
    if binary:
        with atomic_output(path, "wb") as f:
            f.write(f"{v} {d}\n".encode())
            le = vectors.astype("<f4", copy=False)
            for w, row in zip(words, le, strict=True):
                f.write(w.encode("utf-8") + b" " + row.tobytes() + b"\n")
        return
    fmt = " ".join(["%.9g"] * d)
    with atomic_output(path, "w") as f:
        f.write(f"{v} {d}\n")
        for w, row in zip(words, vectors.tolist(), strict=True):
            f.write(w + " " + fmt % tuple(row) + "\n")


def _header(data: bytes, name: str) -> tuple[int, int, int]:
    """(V, D, offset after the header line)."""
    if data[:2] == b"\x1f\x8b":
        raise FormatError(f"{name}: looks like gzip data that was not decompressed")
    end = data.find(b"\n")
    if end < 0:
        raise FormatError(f"{name}:1: no header line `V D`; is this a word2vec vectors file?")
    try:
        parts = data[:end].decode("utf-8").split()
        v, d = (int(x) for x in parts)
    except (UnicodeDecodeError, ValueError):
        raise FormatError(f"{name}:1: expected the header `V D` (two integers), got "
                          f"{data[:min(end, 60)]!r}; is this a word2vec vectors file?") from None
    if v < 1 or d < 1:
        raise FormatError(f"{name}:1: header `{v} {d}` needs V >= 1 and D >= 1")
    return v, d, end + 1


def _looks_text(data: bytes, offset: int, d: int) -> bool:
    end = data.find(b"\n", offset)
    line = data[offset:end if end >= 0 else len(data)]
    try:
        fields = line.decode("utf-8").split()
        [float(x) for x in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        return False
    return len(fields) == d + 1


def read_vectors(path: str | os.PathLike | None, *, format: str = "auto") -> tuple[list[str], np.ndarray]:
    """Read a text or binary word2vec file (gzip too); returns (words, (V, D) float32).

    Raises FormatError naming the file, the record and the problem (truncated, wrong
    number of values, NaN, bad UTF-8, duplicate words).
    """
    if format not in FORMATS:
        raise FormatError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    name = display_name(path)
    f = open_input(path)
    try:
        data = f.read()
    except (*GZIP_ERRORS, OSError) as e:
        raise FormatError(f"{name}: cannot read compressed data ({e})") from None
    finally:
        if path not in (None, "-", ""):
            f.close()
    if not data:
        raise FormatError(f"{name}: empty file; expected a word2vec vectors file")
    v, d, off = _header(data, name)
    if v * (d + 1) > len(data) - off:  # every record takes more than D bytes in either form
        raise FormatError(f"{name}: truncated: the header promises {v} vectors of {d} values, but only "
                          f"{len(data) - off} bytes follow it")
    binary = format == "binary" or (format == "auto" and not _looks_text(data, off, d))
    words, vectors = (_read_binary if binary else _read_text)(data, off, v, d, name)
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise FormatError(f"{name}: the vector of {words[row]!r} (record {row + 1}) holds NaN or inf")
    if len(set(words)) != v:
        raise FormatError(f"{name}: duplicate words among the {v} records")
    return words, vectors


def _read_text(data: bytes, off: int, v: int, d: int, name: str):
    if not data.endswith(b"\n"):
        line = data.count(b"\n") + 1
        raise FormatError(f"{name}:{line}: truncated: the last line does not end in a newline")
    lines = data[off:].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) < v:
        raise FormatError(f"{name}: truncated: the header promises {v} vectors, the file has {len(lines)}")
    if len(lines) > v and any(x.strip() for x in lines[v:]):
        raise FormatError(f"{name}:{v + 2}: more records than the header's {v}")
    words: list[str] = []
    vectors = np.empty((v, d), dtype=np.float32)
    for i in range(v):
        try:
            fields = lines[i].decode("utf-8").rstrip().split(" ")
        except UnicodeDecodeError:
            raise FormatError(f"{name}:{i + 2}: invalid UTF-8; if this is a binary vectors file, "
                              "pass --format binary") from None
        if len(fields) != d + 1:
            raise FormatError(f"{name}:{i + 2}: expected a word and {d} values, got {len(fields) - 1} "
                              "values (truncated or not the text format?)")
        try:
            vectors[i] = np.asarray(fields[1:], dtype=np.float32)
        except ValueError:
            raise FormatError(f"{name}:{i + 2}: a value of {fields[0]!r} is not a number") from None
        words.append(fields[0])
    return words, vectors


def _read_binary(data: bytes, off: int, v: int, d: int, name: str):
    words: list[str] = []
    vectors = np.empty((v, d), dtype=np.float32)
    nbytes = 4 * d
    pos = off
    for i in range(v):
        while pos < len(data) and data[pos:pos + 1] == b"\n":  # word2vec.c's newline after a row
            pos += 1
        sp = data.find(b" ", pos, pos + 1000)
        if sp < 0:
            raise FormatError(f"{name}: truncated at record {i + 1} of {v}: no word followed by a space "
                              f"(byte {pos})")
        try:
            word = data[pos:sp].decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{name}: record {i + 1} (byte {pos}): the word is not valid UTF-8; "
                              "is this really a binary word2vec file?") from None
        if not word or any(c in word for c in " \t\n"):
            raise FormatError(f"{name}: record {i + 1} (byte {pos}): empty or malformed word")
        if sp + 1 + nbytes > len(data):
            raise FormatError(f"{name}: truncated at record {i + 1} of {v} ({word!r}): "
                              f"{len(data) - sp - 1} of {nbytes} vector bytes")
        vectors[i] = np.frombuffer(data, dtype="<f4", count=d, offset=sp + 1)
        words.append(word)
        pos = sp + 1 + nbytes
    rest = data[pos:].strip(b"\n")
    if rest:
        raise FormatError(f"{name}: {len(rest)} bytes after the {v} records of the header; "
                          "wrong header or not a binary word2vec file")
    return words, vectors


def validate_vectors(path: str | os.PathLike | None, *, format: str = "auto") -> tuple[int, int]:
    """Check a vectors file completely; returns (V, D) or raises FormatError."""
    words, vectors = read_vectors(path, format=format)
    return vectors.shape

"""word2vec text and binary vectors: round trips, gensim (or an independent reader), corruption."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from speechlang.errors import FormatError
from speechlang.w2v.vecformat import read_vectors, validate_vectors, write_vectors

WORDS = ["the", "king", "queen", "naïve", "x"]


def _vectors(seed=0, v=len(WORDS), d=7):
    rng = np.random.default_rng(seed)
    vec = rng.normal(0, 1, (v, d)).astype(np.float32)
    vec[0, 0] = np.float32(1e-30)  # values that need all 9 digits
    vec[1, 1] = np.float32(-3.4028235e38)
    vec[2, 2] = np.float32(0.1)
    return vec


def independent_read(path, binary: bool):
    """The documented layout, read with struct and float() (no code shared with vecformat)."""
    data = open(path, "rb").read()
    head, rest = data.split(b"\n", 1)
    v, d = map(int, head.split())
    words, rows = [], []
    if binary:
        pos = 0
        for _ in range(v):
            sp = rest.index(b" ", pos)
            words.append(rest[pos:sp].decode())
            rows.append(struct.unpack(f"<{d}f", rest[sp + 1:sp + 1 + 4 * d]))
            pos = sp + 1 + 4 * d
            if rest[pos:pos + 1] == b"\n":
                pos += 1
        assert pos == len(rest)
    else:
        lines = rest.decode().splitlines()
        assert len(lines) == v
        for line in lines:
            parts = line.split(" ")
            assert len(parts) == d + 1
            words.append(parts[0])
            rows.append([float(x) for x in parts[1:]])
    return words, np.asarray(rows, dtype=np.float32)


def load_reference(path, binary: bool):
    """gensim's KeyedVectors when installed, else the independent reader."""
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        return independent_read(path, binary)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    return list(kv.index_to_key), np.asarray(kv.vectors, dtype=np.float32)


@pytest.mark.parametrize("binary", [False, True])
def test_round_trip_and_reference_reader(tmp_path, binary):
    vec = _vectors()
    path = tmp_path / ("v.bin" if binary else "v.txt")
    write_vectors(path, WORDS, vec, binary=binary)
    words, got = read_vectors(path)
    assert words == WORDS
    assert np.array_equal(got, vec)  # bit-exact in both formats
    ref_words, ref = load_reference(path, binary)
    assert ref_words == WORDS
    assert np.array_equal(ref, vec)
    ind_words, ind = independent_read(path, binary)
    assert ind_words == WORDS and np.array_equal(ind, vec)
    assert validate_vectors(path) == (len(WORDS), 7)


def test_reads_gensim_style_binary_and_gzip(tmp_path):
    vec = _vectors(1)
    # gensim writes binary rows without the newline word2vec.c puts after each vector
    raw = f"{len(WORDS)} 7\n".encode() + b"".join(
        w.encode() + b" " + row.astype("<f4").tobytes() for w, row in zip(WORDS, vec, strict=True))
    (tmp_path / "g.bin").write_bytes(raw)
    words, got = read_vectors(tmp_path / "g.bin")
    assert words == WORDS and np.array_equal(got, vec)
    (tmp_path / "g.bin.gz").write_bytes(gzip.compress(raw))
    assert np.array_equal(read_vectors(tmp_path / "g.bin.gz")[1], vec)
    # word2vec.c's text rows end in a space
    text = f"{len(WORDS)} 7\n" + "".join(
        w + " " + "".join(f"{x:.9g} " for x in row) + "\n" for w, row in zip(WORDS, vec.tolist(), strict=True))
    (tmp_path / "c.txt").write_text(text)
    assert np.array_equal(read_vectors(tmp_path / "c.txt")[1], vec)


@pytest.mark.parametrize("binary", [False, True])
def test_truncated_file_is_a_format_error(tmp_path, binary):
    path = tmp_path / "v"
    write_vectors(path, WORDS, _vectors(), binary=binary)
    data = path.read_bytes()
    for cut in (len(data) - 3, len(data) // 2, data.index(b"\n") + 1):
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError, match="truncated|expected a word and"):
            read_vectors(path, format="binary" if binary else "text")


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello world\nfoo 1 2\n", "header"),
    (b"2 3\na 1 2 3\nb 1 2\n", "expected a word and 3 values"),
    (b"2 3\na 1 2 3\nb 1 x 3\n", "not a number"),
    (b"2 3\na 1 2 3\na 1 2 3\n", "duplicate"),
    (b"1 3\na 1 nan 3\n", "NaN"),
    (b"1 3\na 1 2 3\nb 1 2 3\n", "more records"),
    (b"0 3\n", "V >= 1"),
    (gzip.compress(b"1 1\na 1\n")[:10], "gzip|truncated|corrupt"),
])
def test_corrupt_files(tmp_path, content, message):
    path = tmp_path / "bad.vec"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        read_vectors(path)


def test_binary_with_trailing_garbage(tmp_path):
    path = tmp_path / "v.bin"
    write_vectors(path, WORDS, _vectors(), binary=True)
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(FormatError, match="after the"):
        read_vectors(path, format="binary")


def test_writer_refuses_bad_vectors(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(FormatError, match="NaN"):
        write_vectors(path, ["a"], np.array([[np.nan]], np.float32))
    with pytest.raises(FormatError, match="whitespace"):
        write_vectors(path, ["a b"], np.zeros((1, 2), np.float32))
    with pytest.raises(FormatError, match="shape"):
        write_vectors(path, ["a", "b"], np.zeros((1, 2), np.float32))
    assert not path.exists() and not list(tmp_path.iterdir())

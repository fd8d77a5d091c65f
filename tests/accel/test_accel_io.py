"""Atomic outputs and line reading (speechlang.io)."""

import gzip

import pytest

from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_dir, atomic_output, iter_lines


def test_atomic_output_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_output(target) as f:
        f.write("half of the new")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary left
    with atomic_output(target) as f:
        f.write("new\n")
    assert target.read_text() == "new\n"


def test_atomic_output_missing_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"), atomic_output(tmp_path / "no" / "x.txt"):
        pass


def test_atomic_dir(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(ValueError), atomic_dir(target) as d:
        (d / "a").write_text("x")
        raise ValueError
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as d:
        (d / "a").write_text("x")
    assert (target / "a").read_text() == "x"


def test_iter_lines_names_the_bad_line(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(FormatError, match=r"c.txt:2: invalid UTF-8 \(byte 0xff at column 5\)"):
        list(iter_lines(p))
    assert list(iter_lines(p, encoding_errors="replace")) == ["fine", "bad \ufffd byte"]


def test_iter_lines_gzip(tmp_path):
    p = tmp_path / "c.txt.gz"
    p.write_bytes(gzip.compress(b"a b\nc\n"))
    assert list(iter_lines(p)) == ["a b", "c"]
    with pytest.raises(FormatError, match="gzip"):
        list(iter_lines(p, allow_gzip=False))
    (tmp_path / "t.gz").write_bytes(gzip.compress(b"a\n" * 1000)[:30])
    with pytest.raises(FormatError, match="truncated"):
        list(iter_lines(tmp_path / "t.gz"))


def test_iter_lines_missing_file(tmp_path):
    with pytest.raises(DataError, match="No such file"):
        list(iter_lines(tmp_path / "absent.txt"))


def test_atomic_output_has_umask_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "f.txt") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644

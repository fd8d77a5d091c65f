"""`speechlang w2v ...` end to end, and bad input: one line on stderr, exit 1, no output file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechlang.w2v.vecformat import read_vectors, write_vectors

FIXTURE = Path(__file__).parents[1] / "fixtures" / "w2v" / "web-gen-num.tok"
FAST = ["--dim", "16", "--epochs", "1", "--min-count", "3", "--threads", "1"]


def _one_error_line(res):
    assert res.exit_code == 1, res
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("speechlang: error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def test_train_similar_analogy_eval(cli, tmp_path):
    out = tmp_path / "v.bin"
    res = cli("w2v", "train", "-i", FIXTURE, "-O", out, *FAST, "--save-vocab", tmp_path / "vocab.txt",
              "--metrics", tmp_path / "m.jsonl")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == ""
    assert "loss" in res.stderr and "words/s" in res.stderr
    words, vec = read_vectors(out, format="binary")
    assert vec.shape == (len(words), 16)
    vocab = (tmp_path / "vocab.txt").read_text().split("\n")
    assert [x.split()[0] for x in vocab if x] == words
    rec = json.loads((tmp_path / "m.jsonl").read_text().splitlines()[0])
    assert rec["epoch"] == 1 and rec["loss"] > 0 and rec["words_per_s"] > 0

    res = cli("w2v", "similar", "gold", "-v", out, "-k", "3")
    assert res.exit_code == 0, res.stderr
    rows = [r.split("\t") for r in res.stdout.splitlines()]
    assert len(rows) == 3 and all(w in words and w != "gold" for w, _ in rows)

    res = cli("w2v", "analogy", "man", "king", "woman", "-v", out, "-k", "2", "--json")
    assert res.exit_code == 0, res.stderr
    assert len(json.loads(res.stdout)["neighbours"]) == 2

    qw = tmp_path / "q.txt"
    qw.write_text(": fam\nman woman son daughter\nfather mother brother sister\nzz yy xx ww\n")
    sim = tmp_path / "s.tsv"
    sim.write_text("# c\nson\tdaughter\t8\ngold\tsilver\t7\nday\tnight\t6\nman\tunknownword\t2\n")
    res = cli("w2v", "eval", "-v", out, "--analogies", qw, "--similarity", sim, "--json")
    assert res.exit_code == 0, res.stderr
    rec = json.loads(res.stdout)
    assert rec["analogies"]["questions"] == 3 and rec["analogies"]["total"] == 2
    assert rec["similarity"][0]["pairs"] == 3 and rec["similarity"][0]["total"] == 4
    res = cli("w2v", "eval", "-v", out, "--similarity", sim)
    assert res.exit_code == 0 and "spearman" in res.stdout and "pairs 3/4" in res.stdout


def test_stdin_to_stdout_text_and_reproducible(cli, tmp_path):
    text = FIXTURE.read_text()
    a = cli("w2v", "train", *FAST, "--seed", "7", input=text)
    b = cli("w2v", "train", *FAST, "--seed", "7", input=text)
    assert a.exit_code == 0, a.stderr
    assert a.stdout == b.stdout  # one thread, one seed: the same vectors
    (tmp_path / "a.txt").write_text(a.stdout)
    words, vec = read_vectors(tmp_path / "a.txt", format="text")
    assert a.stdout.splitlines()[0] == f"{len(words)} 16"
    c = cli("w2v", "train", "-i", FIXTURE, *FAST, "--seed", "7", "--format", "text")
    assert c.stdout == a.stdout  # a file gives what stdin gives


@pytest.mark.parametrize("args, stdin, message", [
    ([], "", "holds no words"),
    ([], "\n\n  \n", "holds no words"),
    (["--min-count", "50"], "a b c a\n", "removes every word"),
    (["--dim", "0"], "a b\n", "--dim"),
    (["--dim", "-3"], "a b\n", "--dim"),
    (["--window", "0"], "a b\n", "--window"),
    (["--loss", "softmax"], "a b\n", "--loss"),
    ([], b"a b \xff\n", "<stdin>:1: invalid UTF-8"),
])
def test_train_bad_input(cli, tmp_path, args, stdin, message):
    out = tmp_path / "v.txt"
    res = cli("w2v", "train", "--min-count", "1", "-O", out, *args, input=stdin)
    assert message in _one_error_line(res)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_train_missing_input_and_output_dir(cli, tmp_path):
    res = cli("w2v", "train", "-i", tmp_path / "nope.txt", "-O", tmp_path / "v.txt")
    assert "nope.txt" in _one_error_line(res)
    res = cli("w2v", "train", "-i", FIXTURE, "-O", tmp_path / "missing" / "v.txt")
    assert "does not exist" in _one_error_line(res)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_kept_on_failure(cli, tmp_path):
    out = tmp_path / "v.txt"
    out.write_text("previous\n")
    res = cli("w2v", "train", "-O", out, "--min-count", "9", input="a b\n")
    _one_error_line(res)
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize("binary", [False, True])
def test_query_bad_vectors(cli, tmp_path, binary):
    path = tmp_path / "v"
    write_vectors(path, ["a", "b", "c"], np.eye(3, dtype=np.float32), binary=binary)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    assert "truncated" in _one_error_line(cli("w2v", "similar", "a", "-v", path))
    path.write_bytes(b"garbage\x00\x01 header\n" + data)
    assert "header" in _one_error_line(cli("w2v", "similar", "a", "-v", path))
    assert "nope" in _one_error_line(cli("w2v", "similar", "a", "-v", tmp_path / "nope"))


def test_query_word_not_in_vocabulary(cli, tmp_path):
    path = tmp_path / "v.txt"
    write_vectors(path, ["a", "b", "c"], np.eye(3, dtype=np.float32))
    assert "'zzz' is not in the vocabulary" in _one_error_line(cli("w2v", "similar", "zzz", "-v", path))
    assert "'q' is not in the vocabulary" in _one_error_line(cli("w2v", "analogy", "a", "q", "b", "-v", path))
    res = cli("w2v", "similar", "a", "-v", path, "-k", "0")
    assert res.exit_code == 2  # a usage error from the option's bounds
    assert "needs --analogies" not in _one_error_line(cli("w2v", "eval", "-v", path))

"""`speechlang ngram ...` end to end, and bad input: one stderr line, exit 1, no output file."""

from __future__ import annotations

import gzip
import json

import kenlm
import pytest


@pytest.fixture
def text(tmp_path, corpus):
    p = tmp_path / "train.txt"
    p.write_text("\n".join(corpus) + "\n")
    return p


def one_error_line(r):
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 1, r.stderr
    assert len(lines) == 1 and lines[0].startswith("speechlang: error:"), r.stderr
    return lines[0]


def test_pipeline_train_eval_score_query(cli, tmp_path, text, corpus):
    lm = tmp_path / "lm.arpa"
    r = cli("ngram", "train", "-o", "3", "-i", text, "-O", lm)
    assert r.exit_code == 0, r.stderr
    r = cli("ngram", "eval", "--lm", lm, "-i", text, "--json")
    rec = json.loads(r.stdout)
    k = kenlm.Model(str(lm))
    tokens = sum(len(s.split()) + 1 for s in corpus)
    want = 10 ** (-sum(k.score(s) for s in corpus) / tokens)
    assert rec["tokens"] == tokens and rec["oovs"] == 0
    assert rec["ppl"] == pytest.approx(want, rel=1e-4)
    r = cli("ngram", "eval", "--lm", lm, "--per-sentence", input="w0 w1\nzzz w0\n")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("1\t") and lines[1].split("\t")[3] == "1"  # one OOV in line 2
    r = cli("ngram", "score", "--lm", lm, input="w0 w1\nw2\n")
    assert [float(x) for x in r.stdout.split()] == pytest.approx([k.score("w0 w1"), k.score("w2")], abs=1e-6)
    r = cli("ngram", "query", "--lm", lm, input="w0 zzz\n")
    assert r.stdout.startswith("w0=") and "zzz=" in r.stdout and "/0\t" in r.stdout
    assert "OOV: 1" in r.stdout


def test_stdin_stdout_and_gz(cli, tmp_path, corpus):
    r = cli("ngram", "train", "-o", "2", "--smoothing", "katz", input="\n".join(corpus))
    assert r.exit_code == 0 and r.stdout.startswith("\\data\\")
    gz = tmp_path / "lm.arpa.gz"
    gz.write_bytes(gzip.compress(r.stdout.encode()))
    r = cli("ngram", "eval", "--lm", gz, "--json", input="w0 w1\n")
    assert r.exit_code == 0 and json.loads(r.stdout)["tokens"] == 3


def test_count_memory_and_workers_identical(cli, tmp_path, text):
    outs = []
    for extra in ([], ["--memory", "64K"], ["--workers", "2"]):
        out = tmp_path / f"c{len(outs)}.txt"
        r = cli("ngram", "count", "-o", "3", "-i", text, "-O", out, *extra)
        assert r.exit_code == 0, r.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1] == outs[2]
    first = outs[0].splitlines()[0].split("\t")
    assert first[0] == "<s>" and int(first[1]) == len(text.read_text().splitlines())


@pytest.mark.parametrize("smoothing", ["mkn", "kn", "katz", "wb", "addk", "jm"])
def test_every_method_loads_in_kenlm(cli, tmp_path, text, smoothing):
    lm = tmp_path / f"{smoothing}.arpa"
    assert cli("ngram", "train", "-o", "3", "--smoothing", smoothing, "-i", text, "-O", lm).exit_code == 0
    kenlm.Model(str(lm))


def test_sample_prune_mix(cli, tmp_path, text):
    lm = tmp_path / "lm.arpa"
    cli("ngram", "train", "-o", "3", "-i", text, "-O", lm)
    a = cli("ngram", "sample", "--lm", lm, "-n", "5", "--seed", "3").stdout
    assert a == cli("ngram", "sample", "--lm", lm, "-n", "5", "--seed", "3").stdout
    assert len(a.splitlines()) == 5
    small = tmp_path / "small.arpa"
    r = cli("ngram", "prune", "--lm", lm, "--threshold", "1e-4", "-O", small)
    assert r.exit_code == 0, r.stderr
    assert kenlm.Model(str(small)).order == 3 and small.stat().st_size < lm.stat().st_size
    counts = tmp_path / "counts.txt"
    cli("ngram", "count", "-o", "3", "-i", text, "-O", counts)
    r = cli("ngram", "prune", "--lm", lm, "--counts", counts, "--cutoffs", "0 1 1", "-O", small)
    assert r.exit_code == 0, r.stderr
    wb = tmp_path / "wb.arpa"
    cli("ngram", "train", "-o", "2", "--smoothing", "wb", "-i", text, "-O", wb)
    mixed = tmp_path / "mixed.arpa"
    r = cli("ngram", "mix", lm, wb, "--tune-on", text, "-O", mixed)
    assert r.exit_code == 0 and "EM weights" in r.stderr
    kenlm.Model(str(mixed))
    r = cli("ngram", "mix", lm, wb, "--weights", "0.5 0.5", "-O", mixed)
    assert r.exit_code == 0


def test_bad_input(cli, tmp_path, text):
    out = tmp_path / "lm.arpa"
    assert "empty" in one_error_line(cli("ngram", "train", "-O", out, input=""))
    assert "at least 1" in one_error_line(cli("ngram", "train", "-o", "0", "-O", out, input="a b\n"))
    assert ":1:" in one_error_line(cli("ngram", "train", "-O", out, input="<s>\n"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a b\nc \xff d\n")
    assert "bad.txt:2: invalid UTF-8" in one_error_line(cli("ngram", "train", "-i", bad, "-O", out))
    assert not out.exists()
    r = cli("ngram", "train", "-i", bad, "-O", out, "--encoding-errors", "replace")
    assert r.exit_code == 0 and out.exists()
    out.unlink()
    r = cli("ngram", "train", "-o", "3", "-O", out, input="x x x\nx\n")  # one-word vocabulary
    assert r.exit_code == 0 and r.stderr.count("warning") == 1
    kenlm.Model(str(out))
    out.unlink()
    assert "nope" in one_error_line(cli("ngram", "train", "-i", tmp_path / "nope", "-O", out))
    assert "does not exist" in one_error_line(cli("ngram", "train", "-i", text, "-O", tmp_path / "no" / "lm.arpa"))
    # ARPA problems name the line
    arpa = tmp_path / "t.arpa"
    arpa.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1\ta\n-1\tb\n")
    assert "t.arpa:6:" in one_error_line(cli("ngram", "eval", "--lm", arpa, input="a\n"))
    arpa.write_bytes(gzip.compress(b"\\data\\\n"))
    assert "gzip" in one_error_line(cli("ngram", "eval", "--lm", arpa, input="a\n"))
    assert "--cutoffs" in one_error_line(cli("ngram", "prune", "--lm", text, "--cutoffs", "0 1"))
    assert not out.exists()


def test_disk_full_while_spilling_leaves_no_arpa(cli, tmp_path, text, monkeypatch):
    import errno

    import numpy as np

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    out = tmp_path / "lm.arpa"
    big = tmp_path / "big.txt"
    big.write_text(text.read_text() * 8)
    line = one_error_line(cli("ngram", "train", "-i", big, "-O", out, "--memory", "64K"))
    assert "No space left" in line and not out.exists()

"""ARPA reader/writer: round trips, corrupt files, the back-off query against kenlm."""

from __future__ import annotations

import gzip
import io

import kenlm
import pytest

from speechlang.errors import FormatError
from speechlang.ngram import train
from speechlang.ngram.arpa import ArpaLM, read_arpa, write_arpa, write_arpa_tables
from speechlang.ngram.query import log10_prob

SMALL = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
0\t<s>\t-0.5
-0.6\t</s>
-0.4\ta\t-0.3
-0.8\tb\t-0.2

\\2-grams:
-0.2\t<s> a
-0.3\ta b
-0.1\tb </s>

\\end\\
"""


@pytest.fixture
def small_path(tmp_path):
    p = tmp_path / "small.arpa"
    p.write_text(SMALL)
    return p


def test_read_small(small_path):
    lm = read_arpa(str(small_path))
    assert lm.order == 2 and lm.counts() == [5, 3]
    assert lm.ngrams[0][("</s>",)] == (-0.6, 0.0)
    assert lm.ngrams[0][("a",)] == (-0.4, -0.3)
    assert lm.ngrams[1][("a", "b")] == (-0.3, 0.0)


def test_backoff_rule_by_hand(small_path):
    lm = read_arpa(str(small_path))
    assert log10_prob(lm, ("a",), "b") == -0.3  # seen bigram
    assert log10_prob(lm, ("a",), "a") == pytest.approx(-0.3 + -0.4)  # bo(a) + p(a)
    assert log10_prob(lm, ("zzz",), "a") == pytest.approx(0.0 + -0.4)  # <unk> context: no bo
    assert log10_prob(lm, ("a",), "zzz") == pytest.approx(-0.3 + -1.0)  # unknown -> <unk>
    k = kenlm.Model(str(small_path))
    for sent in ["a b", "b a a", "a zzz b", ""]:
        ours = [log10_prob(lm, tuple((["<s>"] + sent.split())[max(0, i + 1 - 1):i + 1]), w)
                for i, w in enumerate(sent.split() + ["</s>"])]
        theirs = [p for p, _, _ in k.full_scores(sent)]
        assert ours == pytest.approx(theirs, abs=1e-6)


def test_round_trip_exact(tmp_path, corpus):
    lm = train(corpus, order=3, smoothing="kn").to_arpa()
    path = tmp_path / "lm.arpa"
    write_arpa(lm, str(path))
    back = read_arpa(str(path))
    assert back.order == lm.order and back.ngrams == lm.ngrams
    buf = io.BytesIO()
    write_arpa(lm, buf)
    assert read_arpa(io.BytesIO(buf.getvalue())).ngrams == lm.ngrams


def test_table_writer_matches(tmp_path, corpus):
    model = train(corpus, order=3)
    path = tmp_path / "t.arpa"
    e = model.est
    write_arpa_tables(e.vocab, e.words, e.log10_prob, e.log10_backoff, str(path))
    back, want = read_arpa(str(path)), model.to_arpa()
    assert set(back.ngrams[2]) == set(want.ngrams[2])
    for n in range(3):
        for g, (p, b) in want.ngrams[n].items():
            assert back.ngrams[n][g][0] == pytest.approx(p, abs=1e-8)
            assert back.ngrams[n][g][1] == pytest.approx(b, abs=1e-8)


def test_gzip_named_gz_is_read(tmp_path):
    p = tmp_path / "lm.arpa.gz"
    p.write_bytes(gzip.compress(SMALL.encode()))
    assert read_arpa(str(p)).counts() == [5, 3]


@pytest.mark.parametrize("text, line, what", [
    (SMALL.replace("\\end\\\n", ""), 16, "truncated"),
    (SMALL[: SMALL.index("-0.3\ta b")], 13, "declares 3"),
    (SMALL.replace("ngram 2=3", "ngram 2=2"), 15, "more 2-grams"),
    (SMALL.replace("ngram 1=5", "ngram 1=6"), 12, "declares 6"),
    (SMALL.replace("-0.3\ta b", "x\ta b"), 14, "log10 probability"),
    (SMALL.replace("-0.3\ta b", "-0.3\ta b c d"), 14, "field"),
    ("", 1, "empty"),
    ("hello\nworld\n", 2, "not an ARPA"),
])
def test_corrupt_files_name_the_line(tmp_path, text, line, what):
    p = tmp_path / "bad.arpa"
    p.write_text(text)
    with pytest.raises(FormatError, match=rf"bad.arpa:{line}: .*{what}"):
        read_arpa(str(p))


def test_non_utf8_and_gzip_without_gz_name(tmp_path):
    p = tmp_path / "bad.arpa"
    p.write_bytes(SMALL.replace("a b", "a \xe9").encode("latin-1"))
    with pytest.raises(FormatError, match=r"bad.arpa:14: invalid UTF-8"):
        read_arpa(str(p))
    p.write_bytes(gzip.compress(SMALL.encode()))
    with pytest.raises(FormatError, match=r"bad.arpa:1: looks like a gzip file"):
        read_arpa(str(p))
    q = tmp_path / "cut.arpa.gz"
    q.write_bytes(gzip.compress(SMALL.encode())[:40])
    with pytest.raises(FormatError, match="cut.arpa.gz"):
        read_arpa(str(q))


def test_writer_rejects_bad_models(tmp_path):
    with pytest.raises(FormatError):
        write_arpa(ArpaLM(2, [{("a",): (-1.0, 0.0)}, {("a", "b c"): (-1.0, 0.0)}]), str(tmp_path / "x"))
    with pytest.raises(FormatError):
        write_arpa(ArpaLM(1, [{("a",): (float("nan"), 0.0)}]), str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()

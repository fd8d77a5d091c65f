"""Analogy accuracy and Spearman's rho against brute force (and gensim when it is installed)."""

from __future__ import annotations

import numpy as np
import pytest

from speechlang.errors import DataError, FormatError
from speechlang.w2v.evaluate import evaluate_analogies, evaluate_similarity, rankdata, spearman
from speechlang.w2v.neighbors import KeyedVectors
from speechlang.w2v.vecformat import write_vectors


def _kv(seed=0, v=40, d=5):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(v)]
    return KeyedVectors(words, rng.normal(size=(v, d)).astype(np.float32))


def _questions(kv, rng, n=300, oov=20):
    lines = [": sec-one"]
    for i in range(n):
        if i == n // 2:
            lines.append(": sec-two")
        q = rng.choice(len(kv.words), 4, replace=False)
        lines.append(" ".join(kv.words[j].upper() for j in q))  # questions are matched case-insensitively
    for _ in range(oov):
        lines.append("w1 w2 w3 missingword")
    return "\n".join(lines) + "\n"


def brute_force_analogy(kv, path, restrict):
    n = min(restrict, len(kv.words))
    index = {w.upper(): i for i, w in enumerate(kv.words[:n])}
    out, section = {}, None
    for line in open(path):
        if line.startswith(":"):
            section = line[1:].strip()
            out[section] = [0, 0]
            continue
        q = line.upper().split()
        if not all(w in index for w in q):
            continue
        a, b, c, d = (index[w] for w in q)
        best, best_s = None, -np.inf
        for i in range(n):
            if i in (a, b, c):
                continue
            t = kv.unit[b] - kv.unit[a] + kv.unit[c]
            s = float(kv.unit[i] @ t) / np.linalg.norm(t)
            if s > best_s:
                best, best_s = i, s
        out[section][0] += best == d
        out[section][1] += 1
    return out


@pytest.mark.parametrize("restrict", [300_000, 25])
def test_analogies_equal_brute_force(tmp_path, restrict):
    kv = _kv()
    path = tmp_path / "q.txt"
    path.write_text(_questions(kv, np.random.default_rng(1)))
    res = evaluate_analogies(kv, path, restrict=restrict)
    ref = brute_force_analogy(kv, path, restrict)
    got = {s["section"]: [s["correct"], s["total"]] for s in res["sections"]}
    assert got == ref
    assert res["questions"] == 320
    assert res["total"] == sum(t for _, t in ref.values())
    assert res["coverage"] == pytest.approx(100 * res["total"] / 320)
    assert res["correct"] > 0  # random vectors still get some right: the check is not vacuous

    try:
        from gensim.models import KeyedVectors as GensimKV
    except ImportError:
        return
    vec = tmp_path / "v.txt"
    write_vectors(vec, kv.words, kv.vectors)
    g = GensimKV.load_word2vec_format(str(vec))
    score, sections = g.evaluate_word_analogies(str(path), restrict_vocab=restrict)
    total = sections[-1]
    assert len(total["correct"]) == res["correct"]
    assert len(total["correct"]) + len(total["incorrect"]) == res["total"]


def test_rankdata_and_spearman_by_hand():
    assert rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    # hand computation: ranks x = 1,2,3,4,5; y = 2,1,4,3,5 -> d^2 sum = 4 -> 1 - 6*4/(5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [5, 3, 8, 7, 9]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # with ties: Pearson of the averaged ranks
    x, y = [1, 2, 2, 3], [1, 3, 2, 4]
    rx, ry = np.array([1, 2.5, 2.5, 4]), np.array([1, 3, 2, 4])
    assert spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_similarity_with_coverage(tmp_path):
    kv = _kv()
    path = tmp_path / "pairs.tsv"
    rng = np.random.default_rng(2)
    lines = ["# a comment", "# Word 1\tWord 2\tHuman (mean)"]
    gold, model = [], []
    for _ in range(30):
        i, j = rng.choice(40, 2, replace=False)
        s = float(rng.uniform(0, 10))
        lines.append(f"W{i}\tw{j}\t{s:.2f}")
        gold.append(round(s, 2))
        model.append(float(kv.unit[i] @ kv.unit[j]))
    lines.append("w1\tunknownword\t3.0")
    path.write_text("\n".join(lines) + "\n")
    res = evaluate_similarity(kv, path)
    assert res["pairs"] == 30 and res["total"] == 31
    assert res["coverage"] == pytest.approx(100 * 30 / 31)
    assert res["spearman"] == pytest.approx(spearman(gold, model))
    try:
        from scipy.stats import spearmanr
    except ImportError:
        return
    assert res["spearman"] == pytest.approx(spearmanr(gold, model).correlation)


def test_eval_file_errors(tmp_path):
    kv = _kv()
    bad = tmp_path / "bad.txt"
    bad.write_text(": s\na b c\n")
    with pytest.raises(FormatError, match="bad.txt:2"):
        evaluate_analogies(kv, bad)
    bad.write_text("a\tb\tnot-a-number\n")
    with pytest.raises(FormatError, match="bad.txt:1"):
        evaluate_similarity(kv, bad)
    bad.write_text("# only comments\n")
    with pytest.raises(DataError, match="no word pairs"):
        evaluate_similarity(kv, bad)


def test_similar_and_analogy_queries():
    words = ["man", "woman", "king", "queen", "apple"]
    vec = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1]], np.float32)
    kv = KeyedVectors(words, vec)
    assert kv.analogy("man", "king", "woman", k=1)[0][0] == "queen"
    near = kv.similar("king", k=4)
    assert [w for w, _ in near][:1] == ["queen"] and "king" not in [w for w, _ in near]
    cos = [s for _, s in near]
    assert cos == sorted(cos, reverse=True)
    assert near[0][1] == pytest.approx(2 / (np.sqrt(2) * np.sqrt(3)))
    with pytest.raises(DataError, match="did you mean 'king'"):
        kv.similar("King")

"""Intrinsic evaluation: word analogies (3CosAdd) and word-pair similarity (Spearman's rho).

    kv = KeyedVectors(words, vectors)
    evaluate_analogies(kv, "questions-words.txt")   # accuracy per section, with coverage
    evaluate_similarity(kv, "wordsim353.tsv")       # Spearman rho, pairs covered

Both follow gensim's `evaluate_word_analogies` / `evaluate_word_pairs` defaults, so the
numbers compare: case-insensitive matching, only the `restrict` most frequent words are used
(a question or pair with a word outside them is skipped and counted as not covered), and an
analogy a:b = c:? is answered by the nearest word to unit(b) - unit(a) + unit(c) other than
a, b and c (Mikolov et al. 2013).

File formats: analogies `: section` lines, then `a b c d` per line; similarity sets
`word1<TAB>word2<TAB>score` per line, lines starting with `#` are comments.
"""

from __future__ import annotations

import os

import numpy as np

from speechlang.errors import DataError, FormatError
from speechlang.io import display_name, iter_lines
from speechlang.w2v.neighbors import KeyedVectors

RESTRICT = 300_000  # gensim's restrict_vocab default


def _case_index(kv: KeyedVectors, restrict: int) -> tuple[dict[str, int], np.ndarray]:
    """Upper-cased word -> row among the first `restrict` rows (the most frequent spelling
    wins), and for each of those rows the row its upper-cased form maps to."""
    n = min(restrict, len(kv.words))
    ok: dict[str, int] = {}
    for i in range(n - 1, -1, -1):
        ok[kv.words[i].upper()] = i
    canon = np.array([ok[kv.words[i].upper()] for i in range(n)], dtype=np.int64)
    return ok, canon


def read_analogies(path: str | os.PathLike) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """[(section, [(a, b, c, d), ...]), ...] from a questions-words file."""
    sections: list[tuple[str, list]] = []
    name = display_name(path)
    for lineno, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        if line.startswith(":"):
            sections.append((line[1:].strip(), []))
            continue
        parts = line.split()
        if len(parts) != 4:
            raise FormatError(f"{name}:{lineno}: expected 4 words `a b c d`, got {len(parts)}")
        if not sections:
            sections.append(("(no section)", []))
        sections[-1][1].append(tuple(parts))
    if not any(q for _, q in sections):
        raise DataError(f"{name}: no analogy questions found")
    return sections


def read_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """[(word1, word2, score), ...] from a tab-separated similarity set."""
    name = display_name(path)
    pairs = []
    for lineno, line in enumerate(iter_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise FormatError(f"{name}:{lineno}: expected `word1<TAB>word2<TAB>score`")
        try:
            score = float(parts[2])
        except ValueError:
            raise FormatError(f"{name}:{lineno}: score {parts[2]!r} is not a number") from None
        if not np.isfinite(score):
            raise FormatError(f"{name}:{lineno}: score {parts[2]!r} is not finite")
        pairs.append((parts[0].strip(), parts[1].strip(), score))
    if not pairs:
        raise DataError(f"{name}: no word pairs found")
    return pairs


def evaluate_analogies(kv: KeyedVectors, path: str | os.PathLike, *, restrict: int = RESTRICT) -> dict:
    """3CosAdd accuracy per section and in total, over the questions fully in the vocabulary.

    Returns {"sections": [{"section", "correct", "total", "questions", "accuracy"}],
    "correct", "total" (answered), "questions", "accuracy" (%), "coverage" (% answered)}.
    """
    ok, canon = _case_index(kv, restrict)
    unit = kv.unit[: canon.shape[0]]
    batch = max(1, (1 << 24) // unit.shape[0])  # questions per (B, R) score block, ~64 MB
    out, n_correct, n_answered, n_questions = [], 0, 0, 0
    for section, questions in read_analogies(path):
        ids = [[ok.get(w.upper(), -1) for w in q] for q in questions]
        ids = np.asarray([q for q in ids if min(q) >= 0], dtype=np.int64).reshape(-1, 4)
        correct = 0
        for s in range(0, ids.shape[0], batch):
            q = ids[s:s + batch]
            target = unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]]
            target /= np.maximum(np.linalg.norm(target, axis=1, keepdims=True), 1e-12)
            scores = target @ unit.T  # (B, R)
            for k in range(3):  # neither a, b, c nor another spelling of them
                scores[canon[None, :] == q[:, k:k + 1]] = -np.inf
            pred = scores.argmax(axis=1)
            correct += int((canon[pred] == q[:, 3]).sum())
        total = int(ids.shape[0])
        out.append({"section": section, "correct": correct, "total": total, "questions": len(questions),
                    "accuracy": 100.0 * correct / total if total else None})
        n_correct += correct
        n_answered += total
        n_questions += len(questions)
    return {"sections": out, "correct": n_correct, "total": n_answered, "questions": n_questions,
            "accuracy": 100.0 * n_correct / n_answered if n_answered else None,
            "coverage": 100.0 * n_answered / n_questions}


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata 'average')."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.r_[0, np.flatnonzero(xs[1:] != xs[:-1]) + 1]
    ends = np.r_[starts[1:], xs.size]
    ranks = np.empty(x.size, dtype=np.float64)
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0  # mean of ranks a+1..b
    return ranks


def spearman(x, y) -> float:
    """Spearman's rho: Pearson correlation of the (tie-averaged) ranks."""
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def evaluate_similarity(kv: KeyedVectors, path: str | os.PathLike, *, restrict: int = RESTRICT) -> dict:
    """Spearman's rho between cosine similarity and human scores over the covered pairs.

    Returns {"name", "spearman", "pairs" (covered), "total", "coverage" (%)}.
    """
    ok, _ = _case_index(kv, restrict)
    pairs = read_pairs(path)
    gold, model = [], []
    for a, b, score in pairs:
        i, j = ok.get(a.upper()), ok.get(b.upper())
        if i is None or j is None:
            continue
        gold.append(score)
        model.append(float(kv.unit[i] @ kv.unit[j]))
    rho = spearman(gold, model) if len(gold) >= 2 else None
    return {"name": os.path.basename(str(path)), "spearman": rho, "pairs": len(gold),
            "total": len(pairs), "coverage": 100.0 * len(gold) / len(pairs)}

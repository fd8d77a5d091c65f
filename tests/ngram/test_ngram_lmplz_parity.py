"""Modified Kneser-Ney against ARPA files made by KenLM's lmplz (tests/fixtures/ngram/README.md):
every n-gram's log10 probability and backoff within 1e-4, the same n-gram sets.

(lmplz's unigram discount statistics differ from its own adjusted counts by one n-gram when
the last two lines of the text are identical; the fixtures do not end that way.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from speechlang.ngram import TrainConfig, read_arpa, train_corpus
from speechlang.ngram.query import evaluate

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ngram"


@pytest.mark.parametrize("text, arpa, order", [
    ("bible-train-small.tok", "bible-train-small.o3.lmplz.arpa.gz", 3),
    ("tiny.tok", "tiny.o5.lmplz.arpa.gz", 5),  # discounts fall back for orders 2, 4, 5
])
def test_mkn_matches_lmplz(tmp_path, text, arpa, order):
    ref = read_arpa(str(FIX / arpa))
    model = train_corpus(str(FIX / text), TrainConfig(order=order))
    path = tmp_path / "ours.arpa"
    model.save(str(path))
    ours = read_arpa(str(path))
    assert ours.counts() == ref.counts()
    for n in range(order):
        assert ours.ngrams[n].keys() == ref.ngrams[n].keys()
        dp = max(abs(p - ref.ngrams[n][g][0]) for g, (p, _) in ours.ngrams[n].items())
        db = max(abs(b - ref.ngrams[n][g][1]) for g, (_, b) in ours.ngrams[n].items())
        assert dp <= 1e-4 and db <= 1e-4, (n + 1, dp, db)
    test = FIX / "bible-test-small.tok"
    a, _ = evaluate(str(path), str(test))
    b, _ = evaluate(ref, str(test))
    assert a.ppl == pytest.approx(b.ppl, rel=1e-4) and a.oovs == b.oovs > 0

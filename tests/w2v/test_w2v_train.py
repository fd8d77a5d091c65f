"""Training end to end: structure is learned (numba and torch), runs repeat, inputs stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechlang.errors import ConfigError, DataError
from speechlang.w2v.corpus import TokenCorpus
from speechlang.w2v.neighbors import KeyedVectors
from speechlang.w2v.train import W2VConfig, call_ranges, split_parts, train, train_corpus

FIXTURE = Path(__file__).parents[1] / "fixtures" / "w2v" / "web-gen-num.tok"
GROUPS, PER_GROUP, FILLERS = 8, 12, 20


def topic_corpus(n_sentences=2000, seed=0) -> list[list[str]]:
    """Sentences that each draw their content words from one of GROUPS topics, mixed with
    shared filler words: words of one topic co-occur, words of different topics never do."""
    rng = np.random.default_rng(seed)
    sentences = []
    for _ in range(n_sentences):
        g = rng.integers(GROUPS)
        n = rng.integers(6, 13)
        words = [f"t{g}w{rng.integers(PER_GROUP)}" if rng.random() < 0.7 else f"f{rng.integers(FILLERS)}"
                 for _ in range(n)]
        sentences.append(words)
    return sentences


def topic_precision(kv: KeyedVectors, k=5) -> float:
    """Mean share of each topic word's k nearest neighbours that are of its own topic."""
    hits = []
    for g in range(GROUPS):
        for i in range(PER_GROUP):
            near = kv.similar(f"t{g}w{i}", k)
            hits.append(np.mean([w.startswith(f"t{g}w") for w, _ in near]))
    return float(np.mean(hits))


CHANCE = (PER_GROUP - 1) / (GROUPS * PER_GROUP + FILLERS - 1)


@pytest.mark.parametrize("loss", ["ns", "hs"])
def test_numba_learns_topics_and_loss_falls(loss):
    corpus = TokenCorpus.from_sentences(topic_corpus())
    cfg = W2VConfig(loss=loss, dim=24, window=3, epochs=5, sample=0, min_count=1, threads=1, alpha=0.05)
    res = train_corpus(corpus, cfg)
    kv = KeyedVectors(res.words, res.vectors)
    assert topic_precision(kv) > 0.8 > 5 * CHANCE
    losses = [h["loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert all(h["words"] == corpus.train_words for h in res.history)


def test_torch_backend_learns_topics_on_cpu():
    corpus = TokenCorpus.from_sentences(topic_corpus(1200))
    for loss in ("ns", "hs"):
        cfg = W2VConfig(loss=loss, dim=24, window=3, epochs=4, sample=0, min_count=1, threads=1, alpha=0.05,
                        backend="torch", device="cpu", batch_size=1024)
        res = train_corpus(corpus, cfg)
        assert res.backend == "torch"
        kv = KeyedVectors(res.words, res.vectors)
        assert topic_precision(kv) > 0.6 > 4 * CHANCE, loss
        assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_real_text_similarity_beats_chance():
    """Word pairs that belong together in Genesis-Leviticus rank near each other."""
    res = train([FIXTURE], W2VConfig(dim=50, min_count=3, epochs=5, threads=1))
    kv = KeyedVectors(res.words, res.vectors)
    pairs = [("son", "daughter"), ("sons", "daughters"), ("gold", "silver"), ("day", "night"),
             ("man", "woman"), ("brother", "brothers"), ("sheep", "goats"), ("heaven", "earth"),
             ("father", "mother"), ("bread", "wine"), ("twenty", "thirty"), ("north", "south")]
    pct = []
    for a, b in pairs:
        scores = kv.unit @ kv.unit[kv.row(a)]
        rank = int((scores > scores[kv.row(b)]).sum()) - 1  # a itself ranks first
        pct.append(rank / (len(kv.words) - 1))
    assert np.median(pct) < 0.05, pct  # chance: 0.5


def test_one_thread_is_reproducible_and_seed_matters():
    corpus = TokenCorpus.from_sentences(topic_corpus(300))
    cfg = W2VConfig(dim=16, window=3, epochs=2, min_count=1, threads=1, sample=1e-2)
    a, b = train_corpus(corpus, cfg), train_corpus(corpus, cfg)
    assert np.array_equal(a.vectors, b.vectors)
    assert a.history[-1]["loss"] == b.history[-1]["loss"]
    c = train_corpus(corpus, W2VConfig(dim=16, window=3, epochs=2, min_count=1, threads=1, sample=1e-2, seed=2))
    assert not np.array_equal(a.vectors, c.vectors)


def test_two_threads_train_too():
    corpus = TokenCorpus.from_sentences(topic_corpus())
    res = train_corpus(corpus, W2VConfig(dim=24, window=3, epochs=5, sample=0, min_count=1, threads=2, alpha=0.05))
    assert topic_precision(KeyedVectors(res.words, res.vectors)) > 0.8


def test_stdin_gzip_and_files_spool_the_same(tmp_path, monkeypatch):
    import gzip
    import io
    import sys

    text = "".join(" ".join(s) + "\n" for s in topic_corpus(200))
    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(text.encode()))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    with TokenCorpus.build(["-"], min_count=2) as s, TokenCorpus.build([tmp_path / "a.txt"], min_count=2) as f, \
            TokenCorpus.build([tmp_path / "b.txt.gz"], min_count=2) as g:
        assert s.vocab.words == f.vocab.words == g.vocab.words
        assert np.array_equal(s.tokens, f.tokens) and np.array_equal(f.tokens, g.tokens)
        ref = TokenCorpus.from_sentences(topic_corpus(200), min_count=2)
        assert s.vocab.words == ref.vocab.words
        assert np.array_equal(np.asarray(s.tokens), ref.tokens)
        tmp = Path(s._tmp)
        assert tmp.is_dir()
    assert not tmp.exists()  # the spool is removed


def test_vocab_counts_order_and_min_count(tmp_path):
    (tmp_path / "c.txt").write_text("b a b\n\nc b a d\n")
    with TokenCorpus.build([tmp_path / "c.txt"], min_count=2) as c:
        assert c.vocab.words == ["b", "a"]
        assert c.vocab.counts.tolist() == [3, 2]
        assert c.raw_words == 7
        # ids with -1 after each line; words under min-count are dropped
        assert np.asarray(c.tokens).tolist() == [0, 1, 0, -1, -1, 0, 1, -1]


def test_parts_start_at_sentences():
    tokens = np.array([0, 1, -1, 2, 2, 2, -1, 1, -1, 0, 0, 0, 0, -1], np.int32)
    b = split_parts(tokens, 3)
    assert b[0] == 0 and b[-1] == tokens.size
    assert all(tokens[i - 1] == -1 for i in b[1:-1])


def test_each_call_trains_one_region_and_every_token_once():
    rng = np.random.default_rng(0)
    tokens = rng.integers(-1, 5, 400).astype(np.int32)
    starts, ends = call_ranges(tokens, 5, 4)
    assert starts.shape == ends.shape == (5, 4)
    flat_s, flat_e = starts.ravel(), ends.ravel()
    # consecutive chunks in call order, covering the corpus exactly once
    assert flat_s[0] == 0 and flat_e[-1] == tokens.size
    assert (flat_s[1:] == flat_e[:-1]).all() and (flat_e >= flat_s).all()
    # so the parts of call k lie before those of call k + 1
    assert (ends[:-1].max(axis=1) <= starts[1:].min(axis=1)).all()


@pytest.mark.parametrize("kw, message", [
    ({"dim": 0}, "--dim"), ({"window": 0}, "--window"), ({"loss": "x"}, "--loss"),
    ({"negative": 0}, "--negative"), ({"alpha": 0}, "--alpha"), ({"sample": -1}, "--sample"),
    ({"backend": "cuda"}, "--backend"),
])
def test_bad_config(kw, message):
    with pytest.raises(ConfigError, match=message):
        W2VConfig(**kw).check()


def test_min_count_removing_everything():
    with pytest.raises(DataError, match="removes every word"):
        TokenCorpus.from_sentences([["a", "b"]], min_count=3)


requires_cuda = pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")


@requires_cuda
def test_torch_backend_on_gpu_learns_topics():
    corpus = TokenCorpus.from_sentences(topic_corpus(1200))
    for loss in ("ns", "hs"):
        cfg = W2VConfig(loss=loss, dim=24, window=3, epochs=4, sample=0, min_count=1, alpha=0.05,
                        device="cuda", batch_size=1024)
        res = train_corpus(corpus, cfg)
        assert res.backend == "torch"  # auto picks torch on a GPU
        assert topic_precision(KeyedVectors(res.words, res.vectors)) > 0.6, loss

"""Search: beam 1 equals greedy, beam search finds the exhaustive optimum, ensembles average."""

from __future__ import annotations

import itertools

import pytest
import torch

from speechlang.nmt.registry import build_model
from speechlang.nmt.search import Ensemble, beam_search, greedy_search
from speechlang.nmt.subword import BOS, EOS

ARCH_OPTS = {
    "transformer": dict(embed_dim=16, ff_dim=32, heads=2, enc_layers=1, dec_layers=2, dropout=0.0),
    "lstm-attention": dict(embed_dim=12, hidden_dim=10, dec_layers=2, dropout=0.0),
}


def tiny(arch: str, vocab: int, seed: int, **kw):
    torch.manual_seed(seed)
    m = build_model(arch, dict(src_vocab=vocab, tgt_vocab=vocab, **ARCH_OPTS[arch], **kw)).eval()
    with torch.no_grad():  # sharper distributions than the default init, so scores rarely tie
        for p in m.parameters():
            p.mul_(3.0)
    return m


@torch.no_grad()
def seq_logprob(model, src: torch.Tensor, ys: list[int]) -> float:
    """Teacher-forced log-prob of ys + eos for one source sentence."""
    tgt_in = torch.tensor([[BOS, *ys]])
    lp = torch.log_softmax(model(src, tgt_in).double(), -1)[0]
    return float(sum(lp[t, y] for t, y in enumerate([*ys, EOS])))


@pytest.mark.parametrize("arch", sorted(ARCH_OPTS))
def test_beam_one_equals_greedy(arch):
    model = tiny(arch, 12, seed=3)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(4, 12, (6, 7), generator=g)
    src[:, -1] = EOS
    src[2, 4:] = 0
    src[2, 3] = EOS
    greedy = greedy_search(model, src, max_len=9)
    beam = beam_search(model, src, beam=1, max_len=9, len_penalty=0.0)
    for a, b in zip(greedy, beam, strict=True):
        assert a[0][0] == b[0][0]
        assert a[0][1] == pytest.approx(b[0][1], abs=1e-5)


@pytest.mark.parametrize("arch", sorted(ARCH_OPTS))
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_finds_exhaustive_best(arch, alpha):
    # 3 real tokens (4, 5, 6), at most L=3 of them, then eos: 1 + 3 + 9 + 27 = 40 sequences.
    V, L = 7, 3
    for seed in range(2):
        model = tiny(arch, V, seed=seed)
        src = torch.tensor([[4, 6, 5, EOS]])
        best, best_norm = None, float("-inf")
        for n in range(L + 1):
            for ys in itertools.product(range(4, V), repeat=n):
                s = seq_logprob(model, src, list(ys))
                norm = s / (n + 1) ** alpha
                if norm > best_norm:
                    best, best_norm, best_raw = list(ys), norm, s
        # a beam as wide as every candidate of every step: the search must be exact
        (ids, raw), *_ = beam_search(model, src, beam=40, max_len=L, len_penalty=alpha)[0]
        assert ids == best
        assert raw == pytest.approx(best_raw, abs=1e-4)
        # the log-prob it reports is the model's, recomputed by teacher forcing
        assert raw == pytest.approx(seq_logprob(model, src, ids), abs=1e-4)


def test_nbest_sorted_and_distinct():
    model = tiny("transformer", 9, seed=1)
    src = torch.tensor([[4, 5, 6, EOS]])
    hyps = beam_search(model, src, beam=6, max_len=5, len_penalty=0.0, nbest=4)[0]
    assert len(hyps) == 4
    assert len({tuple(h[0]) for h in hyps}) == 4
    scores = [h[1] for h in hyps]
    assert scores == sorted(scores, reverse=True)


def test_ensemble_averages_log_probs():
    a, b = tiny("transformer", 10, seed=1), tiny("lstm-attention", 10, seed=2)
    ens = Ensemble([a, b]).eval()
    src = torch.tensor([[4, 5, 6, 7, EOS], [8, 9, EOS, 0, 0]])
    y = torch.tensor([BOS, BOS])
    lp, _ = ens.step(ens.encode(src), ens.init_state(ens.encode(src)), y)
    la, _ = a.step(a.encode(src), a.init_state(a.encode(src)), y)
    lb, _ = b.step(b.encode(src), b.init_state(b.encode(src)), y)
    torch.testing.assert_close(lp, (la + lb) / 2)
    # an ensemble of one model decodes exactly as the model
    one = Ensemble([a]).eval()
    assert beam_search(one, src, 3, 6) == beam_search(a, src, 3, 6)

"""Output layers: the hierarchical softmax is a distribution and matches its tree by brute force,
the sampled softmax's gradient approaches the full softmax's, both archs decode with each layer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechlang.errors import ConfigError
from speechlang.nmt.output import (
    HierarchicalSoftmax,
    SampledSoftmax,
    make_output_layer,
    proposal_log_probs,
    sampled_softmax_loss,
)
from speechlang.nmt.registry import build_model
from speechlang.nmt.subword import BOS, EOS, PAD
from speechlang.w2v.huffman import huffman_tree


def hs_layer(V: int, D: int, seed: int) -> HierarchicalSoftmax:
    g = torch.Generator().manual_seed(seed)
    hs = HierarchicalSoftmax(D, V)
    hs.set_counts(torch.randint(0, 50, (V,), generator=g))
    with torch.no_grad():
        hs.inner.normal_(0, 1.0, generator=g)
    return hs


@pytest.mark.parametrize("V", [2, 3, 11, 64])
def test_hierarchical_probabilities_sum_to_one(V):
    hs = hs_layer(V, 6, seed=V)
    h = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        lp = hs.scores(h)
    assert lp.shape == (5, V)
    torch.testing.assert_close(lp.double().exp().sum(1), torch.ones(5, dtype=torch.float64), atol=1e-5, rtol=0)


def test_hierarchical_matches_tree_brute_force():
    V, D = 9, 4
    hs = hs_layer(V, D, seed=3)
    tree = huffman_tree(hs.counts.numpy() + 1)
    h = torch.randn(3, D, generator=torch.Generator().manual_seed(2))
    u = hs.inner.detach().double()
    with torch.no_grad():
        lp = hs.scores(h).double()
        nll = hs.loss(h[:, None].expand(3, V, D), torch.arange(V).expand(3, V)).double()
    for n in range(3):
        for w in range(V):
            p = 1.0
            for point, bit in zip(tree.points[w, :tree.lengths[w]], tree.codes[w, :tree.lengths[w]], strict=True):
                s = float(h[n].double() @ u[point])
                p *= 1 / (1 + math.exp(-s)) if bit == 0 else 1 / (1 + math.exp(s))
            assert lp[n, w].item() == pytest.approx(math.log(p), abs=1e-5)
            if w != PAD:  # the training loss is the same path's -log p; PAD positions count 0
                assert nll[n, w].item() == pytest.approx(-math.log(p), abs=1e-5)
    assert (nll[:, PAD] == 0).all()


def test_hierarchical_tree_comes_back_from_the_state_dict():
    hs = hs_layer(12, 5, seed=4)
    fresh = HierarchicalSoftmax(5, 12)  # counts all zero: another tree
    h = torch.randn(4, 5)
    assert not torch.equal(fresh.points, hs.points)
    fresh.load_state_dict(hs.state_dict())
    assert set(hs.state_dict()) == {"inner", "counts"}
    with torch.no_grad():
        torch.testing.assert_close(fresh.scores(h), hs.scores(h))


def full_grads(h, W, b, t):
    h, W, b = (x.clone().requires_grad_() for x in (h, W, b))
    F.cross_entropy(h @ W.t() + b, t, reduction="sum").backward()
    return torch.cat([h.grad.flatten(), W.grad.flatten(), b.grad.flatten()])


def sampled_grads(h, W, b, t, K, draw_q, log_q, draws, g):
    """Mean gradient of the sampled loss over `draws` sets of K candidates drawn from draw_q,
    corrected with log_q."""
    h, W, b = (x.clone().requires_grad_() for x in (h, W, b))
    for _ in range(draws):
        s = torch.multinomial(draw_q, K, replacement=True, generator=g)
        sampled_softmax_loss(h, W, b, t, s, log_q).sum().backward()
    return torch.cat([h.grad.flatten(), W.grad.flatten(), b.grad.flatten()]) / draws


@pytest.mark.parametrize("proposal", ["log-uniform", "unigram"])
def test_sampled_gradient_approaches_full_gradient(proposal):
    V, D, N, K = 40, 8, 6, 20
    g = torch.Generator().manual_seed(0)
    h, W, b = torch.randn(N, D, generator=g), torch.randn(V, D, generator=g) * 0.5, torch.randn(V, generator=g)
    t = torch.randint(4, V, (N,), generator=g)
    log_q = proposal_log_probs(torch.randint(1, 100, (V,), generator=g), proposal)
    q = log_q.exp()
    full = full_grads(h, W, b, t)
    avg = sampled_grads(h, W, b, t, K, q, log_q, 800, g)
    cos = F.cosine_similarity(avg, full, dim=0).item()
    assert cos > 0.97, cos
    # one draw is a noisy estimate; the mean of many is far closer
    one = sampled_grads(h, W, b, t, K, q, log_q, 1, g)
    assert F.cosine_similarity(one, full, dim=0).item() < cos
    if proposal == "log-uniform":  # a skewed proposal: without the log Q correction the mean is biased
        wrong = sampled_grads(h, W, b, t, K, q, torch.full((V,), -math.log(V)), 800, g)
        assert F.cosine_similarity(wrong, full, dim=0).item() < cos - 0.03


def test_sampled_softmax_details():
    g = torch.Generator().manual_seed(0)
    h, W, b = torch.randn(3, 4, generator=g), torch.randn(10, 4, generator=g), torch.randn(10, generator=g)
    t = torch.tensor([5, 6, 7])
    log_q = proposal_log_probs(torch.ones(10), "unigram")
    # every candidate an accidental hit of row 0: only the true word is left there, loss 0
    loss = sampled_softmax_loss(h, W, b, t, torch.tensor([5, 5, 5]), log_q)
    assert loss[0].item() == pytest.approx(0.0, abs=1e-6) and (loss[1:] > 0).all()
    # by hand: logits minus log(K Q), hits removed
    s = torch.tensor([1, 6, 9, 9])
    z = h @ W.t() + b - (log_q + math.log(4))
    for n in range(3):
        cand = [z[n, t[n]]] + [z[n, j] for j in s.tolist() if j != t[n]]
        ref = torch.logsumexp(torch.stack(cand), 0) - z[n, t[n]]
        assert sampled_softmax_loss(h, W, b, t, s, log_q)[n].item() == pytest.approx(ref.item(), abs=1e-5)
    # log-uniform: Zipf over frequency ranks, a distribution; the most frequent word gets log(2)/log(V+1)
    c = torch.tensor([0, 0, 5, 50, 7, 1])
    lq = proposal_log_probs(c, "log-uniform").double()
    assert lq.exp().sum().item() == pytest.approx(1.0, abs=1e-6)
    assert lq[3].exp().item() == pytest.approx(math.log(2) / math.log(7), rel=1e-5)
    assert lq[3] > lq[4] > lq[2] > lq[5]
    # eval mode: the full softmax
    layer = SampledSoftmax(10, 3, "unigram").eval()
    torch.testing.assert_close(layer.loss(h, t, W, b), F.cross_entropy(h @ W.t() + b, t, reduction="none"))
    with pytest.raises(ConfigError, match="--sampled-proposal"):
        SampledSoftmax(10, 3, "zipf")
    with pytest.raises(ConfigError, match="--output-layer"):
        make_output_layer("adaptive", 4, 10)


OPTS = {
    "transformer": dict(embed_dim=16, ff_dim=32, heads=4, enc_layers=1, dec_layers=2, dropout=0.0),
    "lstm-attention": dict(embed_dim=12, hidden_dim=10, dec_layers=2, dropout=0.0),
}


@pytest.mark.parametrize("arch", sorted(OPTS))
@pytest.mark.parametrize("layer", ["sampled", "hierarchical"])
def test_archs_decode_and_train_with_each_layer(arch, layer):
    torch.manual_seed(0)
    V = 20
    m = build_model(arch, dict(src_vocab=V, tgt_vocab=V, output_layer=layer, sampled_k=8, **OPTS[arch]))
    m.output.set_counts(torch.arange(V) * 3)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # not the zero-initialised tree: a real test of the scores
    m.eval()
    src = torch.tensor([[5, 6, 7, 8, EOS], [9, 10, EOS, PAD, PAD]])
    tgt_in = torch.tensor([[BOS, 11, 12, 13], [BOS, 14, 15, PAD]])
    tgt_out = torch.tensor([[11, 12, 13, EOS], [14, 15, EOS, PAD]])
    with torch.no_grad():
        full = torch.log_softmax(m(src, tgt_in), -1)
        enc = m.encode(src)
        state = m.init_state(enc)
        steps = []
        for t in range(tgt_in.shape[1]):
            lp, state = m.step(enc, state, tgt_in[:, t])
            steps.append(lp)
        # eval-mode loss = -log p of the target under the distribution search uses
        nll = m(src, tgt_in, tgt_out)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    ref = -full.gather(-1, tgt_out[..., None]).squeeze(-1) * (tgt_out != PAD)
    torch.testing.assert_close(nll, ref, atol=1e-5, rtol=1e-5)
    # training mode: a loss with gradients for the output layer's parameters
    m.train()
    loss = m(src, tgt_in, tgt_out).sum()
    loss.backward()
    out_param = m.output.inner if layer == "hierarchical" else (m.tgt_embed.weight if arch == "transformer"
                                                                 else m.out.weight)
    assert out_param.grad is not None and out_param.grad.abs().sum() > 0
    if layer == "hierarchical" and arch == "lstm-attention":
        assert m.out is None  # no V x D output matrix beside the tree


def test_unknown_option_values_are_config_errors():
    with pytest.raises(ConfigError, match="--output-layer 'tree'"):
        build_model("transformer", dict(src_vocab=10, tgt_vocab=10, embed_dim=8, heads=2, output_layer="tree"))
    with pytest.raises(ConfigError, match="--sampled-k"):
        build_model("transformer", dict(src_vocab=10, tgt_vocab=10, embed_dim=8, heads=2, output_layer="sampled",
                                        sampled_k=0))


def test_proposal_matches_counts_order():
    c = np.array([3, 9, 9, 1])
    lq = proposal_log_probs(torch.from_numpy(c), "unigram").exp().double()
    torch.testing.assert_close(lq, torch.from_numpy((c + 1) / (c + 1).sum()), atol=1e-6, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("layer", ["full", "sampled", "hierarchical"])
def test_cuda_matches_cpu(layer):
    torch.manual_seed(0)
    m = build_model("transformer", dict(src_vocab=20, tgt_vocab=20, output_layer=layer, sampled_k=8,
                                        **OPTS["transformer"]))
    m.output.set_counts(torch.arange(20))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    m.eval()
    src = torch.tensor([[5, 6, 7, EOS], [8, EOS, PAD, PAD]])
    tgt_in, tgt_out = torch.tensor([[BOS, 9, 10], [BOS, 11, PAD]]), torch.tensor([[9, 10, EOS], [11, EOS, PAD]])
    with torch.no_grad():
        ref, ref_nll = m(src, tgt_in), m(src, tgt_in, tgt_out)
        m.cuda()
        got, nll = m(src.cuda(), tgt_in.cuda()).cpu(), m(src.cuda(), tgt_in.cuda(), tgt_out.cuda()).cpu()
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(nll, ref_nll, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layer", ["sampled", "hierarchical"])
def test_bf16_autocast(layer):
    """--precision bf16: the layers run under autocast; the tree's sums stay in float32."""
    torch.manual_seed(0)
    m = build_model("transformer", dict(src_vocab=20, tgt_vocab=20, output_layer=layer, sampled_k=8,
                                        **OPTS["transformer"]))
    src, tgt_in, tgt_out = torch.tensor([[5, 6, EOS]]), torch.tensor([[BOS, 9]]), torch.tensor([[9, EOS]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lp = torch.log_softmax(m.eval()(src, tgt_in).float(), -1)
        loss = m.train()(src, tgt_in, tgt_out).sum()
    loss.backward()
    assert torch.isfinite(loss) and lp.exp().sum(-1).sub(1).abs().max() < 1e-4

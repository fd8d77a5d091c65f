"""Decoder output layers for large target vocabularies: full, sampled and hierarchical softmax.

    out = make_output_layer("hierarchical", dim=256, vocab=50000); out.set_counts(counts)
    nll = out.loss(h, target, weight, bias)    # training objective, (...) per target token
    s = out.scores(h, weight, bias)            # (..., V): log_softmax(s) is log p(w | h), exactly

The model owns the output matrix `weight` (V, D) and `bias` (V,) (the Transformer ties it to
the target embedding) and passes them in; full and sampled softmax add no parameters, so
their checkpoints hold the same tensors as a plain model's.

* full: logits h W^T + b and cross-entropy.
* sampled (Jean et al. 2015; TensorFlow's `sampled_softmax_loss`): in training, K candidate
  words are drawn with replacement from a proposal Q, shared by every token of the batch:
  log-uniform (Zipfian) over frequency ranks, Q(r) = log((r+2)/(r+1)) / log(V+1), or the
  unigram distribution of the training targets (add-one counts). The true word's and the
  candidates' logits are corrected by -log(K Q(w)), the expected count of w among the
  candidates ("subtract log Q"), candidates equal to a token's true word are removed for that
  token ("remove accidental hits"), and the loss is the cross-entropy of the true word among
  these K + 1 logits. Cost O(N K D) instead of O(N V D). In eval mode (dev loss, translation)
  it is the full softmax over the same W and b.
* hierarchical (Morin and Bengio 2005; Mikolov et al. 2013): a Huffman tree over the training
  target counts (`speechlang.w2v.huffman`); word w is the path of binary decisions from the
  root, p(w | h) = prod_l sigmoid(s_l h . u_{n_l}) with s_l = +1 for code bit 0 and -1 for 1
  (word2vec's convention), so a training token costs O(log V D). Decoding needs every word's
  log-probability: `all_leaf_log_probs` sums each word's path terms with one sparse product
  (words x 2 * inner nodes) over the N x (V-1) node scores: exact, O(N V D) like the full
  softmax's logits. The inner-node vectors are the only parameters; the counts the tree is
  built from are a buffer stored in the checkpoint, and the tree is rebuilt on loading.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlang.errors import ConfigError
from speechlang.nmt.subword import PAD
from speechlang.w2v.huffman import huffman_tree

OUTPUT_LAYERS = ("full", "sampled", "hierarchical")
PROPOSALS = ("log-uniform", "unigram")


def proposal_log_probs(counts: torch.Tensor, proposal: str) -> torch.Tensor:
    """log Q(w) (V,) float32 of the sampled softmax's proposal from target counts (V,).

    log-uniform ranks words by count (ties by id, so equal counts give TensorFlow's
    log_uniform_candidate_sampler over ids); unigram is (count + 1) / (total + V).
    """
    c = counts.double().cpu() + 1
    V = len(c)
    if proposal == "unigram":
        q = c / c.sum()
    elif proposal == "log-uniform":
        rank = torch.empty(V, dtype=torch.float64)
        order = torch.from_numpy(np.argsort(-c.numpy(), kind="stable").copy())
        rank[order] = torch.arange(V, dtype=torch.float64)
        q = torch.log((rank + 2) / (rank + 1)) / math.log(V + 1)
    else:
        raise ConfigError(f"--sampled-proposal {proposal!r} is not one of {', '.join(PROPOSALS)}")
    return q.log().float()


def sampled_softmax_loss(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, target: torch.Tensor,
                         sampled: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Sampled-softmax negative log-likelihood per row.

    h (N, D); weight (V, D); bias (V,) or None; target (N,) int64; sampled (K,) int64 candidates
    drawn with replacement from Q; log_q (V,) log Q. Returns (N,) float32.
    """
    log_k = math.log(len(sampled))
    w_true, w_samp = weight[target], weight[sampled]                       # (N, D), (K, D)
    true = (h * w_true).sum(-1).float()                                    # (N,)
    samp = (h @ w_samp.t()).float()                                        # (N, K)
    if bias is not None:
        true = true + bias[target].float()
        samp = samp + bias[sampled].float()
    true = true - (log_q[target] + log_k)
    samp = samp - (log_q[sampled] + log_k)
    samp = samp.masked_fill(sampled[None, :] == target[:, None], float("-inf"))  # accidental hits
    return torch.logsumexp(torch.cat([true[:, None], samp], 1), 1) - true


def path_nll(h: torch.Tensor, inner: torch.Tensor, points: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """-log p(w | h) along each row's tree path: -sum_l log sigmoid(signs_l h . inner[points_l]).

    h (N, D); inner (V-1, D) inner-node vectors; points (N, L) int64 node rows of each row's
    target word; signs (N, L) float: +1 / -1 for code bit 0 / 1, 0 past the path's end. (N,) float32.
    """
    with torch.autocast(h.device.type, enabled=False):  # float32 even under --precision bf16/fp16
        u = inner[points].float()                                          # (N, L, D)
        s = torch.einsum("nd,nld->nl", h.float(), u)
        return -(F.logsigmoid(signs * s) * (signs != 0)).sum(-1)


def all_leaf_log_probs(h: torch.Tensor, inner: torch.Tensor, leaf_paths: torch.Tensor) -> torch.Tensor:
    """log p(w | h) for every word: (N, D) -> (N, V) float32, summing to 1 in probability.

    leaf_paths is the sparse (CSR) (V, 2 (V-1)) 0/1 matrix with a one at [w, n] when the path
    of w takes branch 0 at inner node n, and at [w, V-1+n] when it takes branch 1; the node
    terms are [log sigmoid(h . u_n), log sigmoid(-h . u_n)] (N, 2 (V-1)).
    """
    with torch.autocast(h.device.type, enabled=False):  # float32 even under --precision bf16/fp16
        s = h.float() @ inner.float().t()                                  # (N, V-1)
        pos = F.logsigmoid(s)
        terms = torch.cat([pos, pos - s], 1)                               # log sigmoid(-s) = log sigmoid(s) - s
        return (leaf_paths @ terms.t().contiguous()).t()


class OutputLayer(nn.Module):
    """Base: `scores` for evaluation and search, `loss` for training, `set_counts` for the
    target-side counts of the training data (used by sampled and hierarchical)."""

    kind = ""

    def scores(self, h: torch.Tensor, weight, bias) -> torch.Tensor:
        """h (..., D) -> (..., V) scores whose log-softmax is log p(w | h)."""
        raise NotImplementedError

    def row_loss(self, h: torch.Tensor, target: torch.Tensor, weight, bias) -> torch.Tensor:
        """h (N, D), target (N,) without PAD -> (N,) float32 training loss."""
        return F.cross_entropy(self.scores(h, weight, bias).float(), target, reduction="none")

    def loss(self, h: torch.Tensor, target: torch.Tensor, weight=None, bias=None) -> torch.Tensor:
        """h (..., D), target (...) int64 -> (...) float32 per-token loss, 0 where target is PAD."""
        flat_h, flat_t = h.reshape(-1, h.shape[-1]), target.reshape(-1)
        keep = (flat_t != PAD).nonzero().squeeze(1)
        out = torch.zeros(flat_t.shape, dtype=torch.float32, device=h.device)
        out = out.index_put((keep,), self.row_loss(flat_h[keep], flat_t[keep], weight, bias))
        return out.view(target.shape)

    def set_counts(self, counts: torch.Tensor) -> None:
        """Target word counts (V,) of the training data."""


class FullSoftmax(OutputLayer):
    kind = "full"

    def scores(self, h, weight, bias):
        return F.linear(h, weight, bias)


class SampledSoftmax(OutputLayer):
    """The sampled softmax in training mode, the full softmax in eval mode."""

    kind = "sampled"

    def __init__(self, vocab: int, k: int, proposal: str):
        super().__init__()
        if k < 1:
            raise ConfigError("--sampled-k must be >= 1")
        self.k, self.proposal = k, proposal
        # log Q depends only on the training counts, which `train` sets again on --resume
        self.register_buffer("log_q", proposal_log_probs(torch.zeros(vocab), proposal), persistent=False)

    def set_counts(self, counts):
        self.log_q.copy_(proposal_log_probs(counts, self.proposal))

    def scores(self, h, weight, bias):
        return F.linear(h, weight, bias)

    def row_loss(self, h, target, weight, bias):
        if not self.training:
            return super().row_loss(h, target, weight, bias)
        sampled = torch.multinomial(self.log_q.exp(), self.k, replacement=True)
        return sampled_softmax_loss(h, weight, bias, target, sampled, self.log_q)


class HierarchicalSoftmax(OutputLayer):
    """Huffman-tree softmax; parameters: the inner-node vectors `inner` (V-1, D)."""

    kind = "hierarchical"

    def __init__(self, dim: int, vocab: int):
        super().__init__()
        if vocab < 2:
            raise ConfigError("a hierarchical softmax needs at least 2 target words")
        self.inner = nn.Parameter(torch.zeros(vocab - 1, dim))  # word2vec's syn1 starts at zero: p(w) = 2^-depth
        self.register_buffer("counts", torch.zeros(vocab, dtype=torch.int64))
        self._build()

    def set_counts(self, counts):
        self.counts.copy_(counts.to(torch.int64))
        self._build()

    def _build(self) -> None:
        """Tree buffers from `counts` (add-one, so every word has a leaf)."""
        tree = huffman_tree(self.counts.cpu().numpy() + 1)
        V, dev = len(tree.lengths), self.counts.device
        L = np.arange(tree.codes.shape[1])[None, :] < tree.lengths[:, None]      # (V, L) on the path
        signs = np.where(L, 1.0 - 2.0 * tree.codes, 0.0)
        self.register_buffer("points", torch.from_numpy(tree.points.astype(np.int64) * L).to(dev), persistent=False)
        self.register_buffer("signs", torch.from_numpy(signs.astype(np.float32)).to(dev), persistent=False)
        self.register_buffer("lengths", torch.from_numpy(tree.lengths.astype(np.int64)).to(dev), persistent=False)
        rows = np.repeat(np.arange(V), tree.lengths)
        cols = (tree.points + (V - 1) * tree.codes.astype(np.int64))[L]
        idx = torch.from_numpy(np.stack([rows, cols]).astype(np.int64))
        paths = torch.sparse_coo_tensor(idx, torch.ones(len(rows)), (V, 2 * (V - 1)),
                                        check_invariants=True).coalesce()
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
            warnings.simplefilter("ignore", UserWarning)
            paths = paths.to_sparse_csr()
        # kept as its dense parts, which deepcopy, `to(device)` and quantization handle like any buffer
        for name, t in (("path_crow", paths.crow_indices()), ("path_col", paths.col_indices()),
                        ("path_val", paths.values())):
            self.register_buffer(name, t.to(dev), persistent=False)

    @property
    def leaf_paths(self) -> torch.Tensor:
        """The sparse CSR (V, 2 (V-1)) path matrix of `all_leaf_log_probs`."""
        V = len(self.counts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.path_crow, self.path_col, self.path_val, (V, 2 * (V - 1)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._build()  # the loaded counts define the tree

    def scores(self, h, weight=None, bias=None):
        lead = h.shape[:-1]
        lp = all_leaf_log_probs(h.reshape(-1, h.shape[-1]), self.inner, self.leaf_paths)
        return lp.view(*lead, -1)

    def row_loss(self, h, target, weight=None, bias=None):
        depth = int(self.lengths[target].max()) if len(target) else 0
        return path_nll(h, self.inner, self.points[target, :depth], self.signs[target, :depth])


def make_output_layer(kind: str, dim: int, vocab: int, *, sampled_k: int = 1024,
                      sampled_proposal: str = "log-uniform") -> OutputLayer:
    """The output layer named `kind` (one of OUTPUT_LAYERS) for hidden size `dim` and `vocab` words."""
    if kind == "full":
        return FullSoftmax()
    if kind == "sampled":
        return SampledSoftmax(vocab, sampled_k, sampled_proposal)
    if kind == "hierarchical":
        return HierarchicalSoftmax(dim, vocab)
    raise ConfigError(f"--output-layer {kind!r} is not one of {', '.join(OUTPUT_LAYERS)}")

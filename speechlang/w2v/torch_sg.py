"""Skip-gram in torch (the GPU path): the same NS / HS objective as the numba kernels, trained
in large batches of (center, context) pairs through `speechlang.accel.fit`.

    vectors, history = train_torch(corpus, W2VConfig(device="cuda", backend="torch"))

Batches are built on the CPU from the spooled token ids with numpy, seeded from
(seed, epoch, rank): subsampling, the dynamic window and noise words follow word2vec.c's
distributions (not its LCG stream). The loss is the mean over pairs, and plain SGD runs with
the learning rate alpha * batch_size (linear decay to min_alpha * batch_size): a table row
seen n times in a batch moves by alpha times the sum of its n pair gradients, as if
word2vec's n sequential steps were taken at once, except that n is capped at ROW_CAP (the
sum for the Huffman root, in every pair, diverges with large batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from speechlang.accel import DistEnv, TrainConfig, derive_seed, fit, set_threads
from speechlang.accel.distributed import env_from_torchrun
from speechlang.accel.hogwild import hogwild_fit
from speechlang.w2v.corpus import TokenCorpus
from speechlang.w2v.huffman import huffman_tree
from speechlang.w2v.negative import noise_alias
from speechlang.w2v.vocab import keep_thresholds

BLOCK = 1 << 20  # tokens turned into pairs at a time
ROW_CAP = 64.0   # a table row takes at most this many pair gradients' worth of step per batch


@dataclass(frozen=True)
class SkipGramConfig:
    vocab_size: int
    dim: int = 100
    loss: str = "ns"       # ns or hs
    max_code: int = 1      # HS: longest Huffman code


class SkipGram(nn.Module):
    """syn0 (V, D) input vectors, syn1 (V, D) NS output vectors or (V - 1, D) HS inner nodes."""

    def __init__(self, cfg: SkipGramConfig, syn0: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        v, d = cfg.vocab_size, cfg.dim
        init = torch.from_numpy(syn0) if syn0 is not None else (torch.rand(v, d) - 0.5) / d
        self.syn0 = nn.Parameter(init.clone().float())
        rows = max(v - 1, 1) if cfg.loss == "hs" else v
        self.syn1 = nn.Parameter(torch.zeros(rows, d))

    def forward(self, context: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """Per-pair loss (B,): context (B,) input rows; targets/labels/mask (B, K) output rows,
        labels 1/0 and a mask of the targets that count (noise equal to the word, padding)."""
        v = F.embedding(context, self.syn0)                           # (B, D)
        u = F.embedding(targets, self.syn1)                           # (B, K, D)
        if torch.is_grad_enabled():
            v = _cap_row_grad(v, context, self.syn0.shape[0])
            u = _cap_row_grad(u, targets, self.syn1.shape[0], mask)
        f = torch.einsum("bd,bkd->bk", v, u)                          # (B, K)
        sign = 2.0 * labels - 1.0
        return (F.softplus(-sign * f) * mask).sum(dim=1)


def _cap_row_grad(x: torch.Tensor, idx: torch.Tensor, rows: int, mask: torch.Tensor | None = None,
                  cap: float = ROW_CAP) -> torch.Tensor:
    """x unchanged, but the gradient reaching row r of the table is scaled by min(1, cap / n_r),
    n_r = the times r occurs in the batch: rows seen up to `cap` times sum their per-pair
    gradients as word2vec's sequential steps would, busier ones (the Huffman root, "the")
    take cap times their mean gradient; the plain sum diverges once batches are large."""
    w = mask if mask is not None else torch.ones_like(idx, dtype=x.dtype)
    count = torch.zeros(rows, dtype=x.dtype, device=x.device).index_add_(0, idx.reshape(-1), w.reshape(-1).to(x.dtype))
    scale = (cap / count.clamp(min=cap))[idx].unsqueeze(-1)
    return x.detach() + (x - x.detach()) * scale


def pair_loss(model: SkipGram, batch) -> tuple[torch.Tensor, int]:
    context, targets, labels, mask = batch
    losses = model(context, targets, labels, mask)
    return losses.mean(), int(context.shape[0])


class PairBatches:
    """batches(epoch, env): (context, targets, labels, mask) tensors of `batch_size` pairs."""

    def __init__(self, corpus: TokenCorpus, cfg, seed: int):
        self.tokens, self.cfg, self.seed = corpus.tokens, cfg, seed
        self.counts = counts = corpus.vocab.counts
        self.keep = keep_thresholds(counts, cfg.sample).astype(np.float64) / 2**32
        if cfg.loss == "hs":
            tree = huffman_tree(counts)
            self.points = torch.from_numpy(tree.points.astype(np.int64))
            self.labels = torch.from_numpy(1.0 - tree.codes.astype(np.float32))
            self.mask = torch.from_numpy(
                (np.arange(tree.points.shape[1])[None, :] < tree.lengths[:, None]).astype(np.float32))
            self.max_code = tree.points.shape[1]
        else:
            self.prob, self.alias = noise_alias(counts)
            self.max_code = 1

    def expected_pairs(self) -> int:
        """Pairs per epoch expected from the subsampling rates (for the LR schedule)."""
        kept = float((self.counts * self.keep).sum())
        return max(int(kept * (self.cfg.window + 1)), 1)

    def pairs(self, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(center, context) pairs of one block of ids (-1 = sentence end), shuffled."""
        sent = np.cumsum(ids < 0)
        ok = ids >= 0
        ok[ok] = rng.random(int(ok.sum())) < self.keep[ids[ok]]
        w, s = ids[ok], sent[ok]
        b = rng.integers(1, self.cfg.window + 1, size=w.size)  # effective window per center
        centers, contexts = [], []
        for d in range(1, self.cfg.window + 1):
            same = s[d:] == s[:-d]
            fwd = same & (b[:-d] >= d)   # center i, context i + d
            bwd = same & (b[d:] >= d)    # center i + d, context i
            centers += [w[:-d][fwd], w[d:][bwd]]
            contexts += [w[d:][fwd], w[:-d][bwd]]
        c, x = np.concatenate(centers), np.concatenate(contexts)
        perm = rng.permutation(c.size)
        return c[perm], x[perm]

    def batches_per_rank(self, world_size: int = 1) -> int:
        """Batches per epoch on each of `world_size` ranks (expected; exact when several)."""
        return max(1, math.ceil(self.expected_pairs() / world_size / self.cfg.batch_size))

    def __call__(self, epoch: int, env: DistEnv):
        rng = np.random.default_rng(derive_seed(self.seed, epoch, env.rank))
        n = self.tokens.shape[0]
        bs = self.cfg.batch_size
        block = min(BLOCK, -(-n // env.world_size))  # a small corpus still gives every rank a block
        starts = list(range(0, n, block))
        mine = starts[env.rank::env.world_size] or starts
        # Several ranks (DDP, Hogwild) yield the same number of batches, as DDP all-reduces every
        # step: a rank goes round its blocks again when its pairs fall short of that number.
        quota = self.batches_per_rank(env.world_size) if env.world_size > 1 else None
        done = 0
        while True:
            before = done
            for s in mine:
                c, x = self.pairs(np.asarray(self.tokens[s:s + block]), rng)
                for i in range(0, c.size, bs):
                    yield self._batch(c[i:i + bs], x[i:i + bs], rng)
                    done += 1
                    if done == quota:
                        return
            if quota is None or done == before:
                return

    def _batch(self, center: np.ndarray, context: np.ndarray, rng: np.random.Generator):
        ctx = torch.from_numpy(context.astype(np.int64))
        if self.cfg.loss == "hs":
            ci = torch.from_numpy(center.astype(np.int64))
            return ctx, self.points[ci], self.labels[ci], self.mask[ci]
        k = self.cfg.negative
        col = rng.integers(0, self.prob.size, size=(center.size, k))
        noise = np.where(rng.random(col.shape) < self.prob[col], col, self.alias[col])
        targets = np.concatenate([center[:, None], noise], axis=1).astype(np.int64)
        labels = np.zeros(targets.shape, np.float32)
        labels[:, 0] = 1.0
        mask = np.ones(targets.shape, np.float32)
        mask[:, 1:] = noise != center[:, None]  # word2vec.c skips noise equal to the word
        return ctx, torch.from_numpy(targets), torch.from_numpy(labels), torch.from_numpy(mask)


def train_torch(corpus: TokenCorpus, cfg) -> tuple[np.ndarray, list[dict]]:
    """Train through accel.fit on cfg.device; returns (syn0 (V, D) float32, history)."""
    from speechlang import log
    from speechlang.w2v.train import init_vectors

    set_threads(cfg.threads)
    batches = PairBatches(corpus, cfg, cfg.seed)
    mcfg = SkipGramConfig(len(corpus.vocab), cfg.dim, cfg.loss, batches.max_code)
    model = SkipGram(mcfg, init_vectors(len(corpus.vocab), cfg.dim, cfg.seed))
    tcfg = TrainConfig(epochs=cfg.epochs, lr=cfg.alpha * cfg.batch_size, optimizer="sgd", momentum=0.0,
                       schedule="linear", min_lr_ratio=cfg.min_alpha / cfg.alpha, device=cfg.device,
                       seed=cfg.seed, precision=cfg.precision, max_minutes=cfg.max_minutes)
    steps = batches.batches_per_rank(1 if cfg.hogwild else env_from_torchrun().world_size)
    log.info(f"training skip-gram {cfg.loss} on {corpus.train_words} words: torch on "
             f"{'cpu, ' + str(cfg.hogwild) + ' Hogwild workers' if cfg.hogwild else cfg.device}, "
             f"batches of {cfg.batch_size} pairs, ~{steps} per epoch")
    if cfg.hogwild:
        result = hogwild_fit(model, pair_loss, batches, tcfg, cfg.hogwild, steps_per_epoch=steps, desc="w2v",
                             unit="pairs")
    else:
        result = fit(model, pair_loss, batches, tcfg, steps_per_epoch=steps, desc="w2v", unit="pairs")
    history = []
    for rec in result.history:
        words_per_s = corpus.train_words / max(rec["epoch_s"], 1e-9)
        history.append({"epoch": rec["epoch"], "loss": rec["train_loss"], "seconds": rec["epoch_s"],
                        "words": corpus.train_words, "words_per_s": words_per_s,
                        "pairs": int(round(rec["items_per_s"] * rec["epoch_s"])),
                        **({"alpha": rec["lr"] / cfg.batch_size} if "lr" in rec else {}),
                        **({"worker_pairs": rec["worker_items"]} if "worker_items" in rec else {})})
        log.info(f"epoch {rec['epoch']}/{cfg.epochs} loss {rec['train_loss']:.4f} words/s {words_per_s:,.0f}")
    return model.syn0.detach().cpu().numpy().astype(np.float32), history

"""Validating wrappers around the skip-gram kernels in `_kernels.py`.

    state = EpochState.new(n_parts, seed)
    run_parts(syn0, syn1, tokens, starts, ends, bases, lengths, state, keep=..., noise=...,
              tree=..., use_hs=False, window=5, negative=5, alpha0=0.025, min_alpha=1e-4,
              epoch=0, epochs=5)
    loss = sgd_step_ns(syn0, syn1neg, context, [word, noise1, ...], alpha)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechlang.accel import derive_seed
from speechlang.errors import ConfigError
from speechlang.w2v import _kernels
from speechlang.w2v.huffman import HuffmanTree

MAX_SENTENCE = 10_000  # longer lines are cut into pieces of this many tokens (as gensim)


@dataclass
class EpochState:
    """Per-part LCG states and the running sums a kernel call adds to."""

    rng: np.ndarray     # (T,) uint64
    loss: np.ndarray    # (T,) float64, summed pair losses
    pairs: np.ndarray   # (T,) int64, (center, context) pairs trained
    words: np.ndarray   # (T,) int64, corpus tokens read (before subsampling)

    @classmethod
    def new(cls, n_parts: int, seed: int) -> EpochState:
        rng = np.array([derive_seed(seed, 0x1CC, t) | 1 for t in range(n_parts)], dtype=np.uint64)
        return cls(rng, np.zeros(n_parts), np.zeros(n_parts, np.int64), np.zeros(n_parts, np.int64))

    def reset_sums(self) -> None:
        self.loss[:] = 0.0
        self.pairs[:] = 0
        self.words[:] = 0


def _f32(name: str, a: np.ndarray) -> np.ndarray:
    if not (isinstance(a, np.ndarray) and a.dtype == np.float32 and a.ndim == 2 and a.flags.c_contiguous):
        raise ConfigError(f"{name} must be a C-contiguous (rows, dim) float32 array")
    return a


def run_parts(syn0, syn1, tokens, starts, ends, bases, lengths, state: EpochState, *,
              keep: np.ndarray, noise: tuple[np.ndarray, np.ndarray] | None, tree: HuffmanTree | None,
              use_hs: bool,
              window: int, negative: int, alpha0: float, min_alpha: float, epoch: int, epochs: int,
              max_sentence: int = MAX_SENTENCE) -> None:
    """Train the parts tokens[starts[t]:ends[t]] in parallel, updating syn0/syn1 in place.

    syn0 (V, D) float32; syn1 (V, D) for NS or (V - 1, D) for HS (at least one row);
    tokens (N,) int32 ids with -1 between sentences; bases/lengths: each part's whole range
    in the epoch, which sets the learning rate.
    """
    syn0, syn1 = _f32("syn0", syn0), _f32("syn1", syn1)
    v, d = syn0.shape
    if syn1.shape[1] != d:
        raise ConfigError(f"syn1 has dim {syn1.shape[1]}, syn0 has {d}")
    if window < 1:
        raise ConfigError(f"--window must be >= 1, got {window}")
    if negative < 0 or (not use_hs and negative < 1):
        raise ConfigError(f"--negative must be >= 1 with --loss ns, got {negative}")
    if epochs < 1 or not 0 <= epoch < epochs:
        raise ConfigError(f"epoch {epoch} is outside 0..{epochs - 1}")
    tokens = np.asarray(tokens)
    if tokens.dtype != np.int32 or tokens.ndim != 1:
        raise ConfigError("tokens must be a flat int32 array")
    keep = np.ascontiguousarray(keep, np.uint64)
    if keep.shape != (v,):
        raise ConfigError(f"keep has shape {keep.shape}, expected ({v},)")
    if use_hs:
        if tree is None or tree.lengths.shape[0] != v:
            raise ConfigError("hierarchical softmax needs a Huffman tree over the vocabulary")
        points, codes, code_lengths = tree.points, tree.codes, tree.lengths
        prob, alias = np.ones(1), np.zeros(1, np.int32)
    else:
        if noise is None or syn1.shape[0] != v:
            raise ConfigError("negative sampling needs the noise alias tables and syn1 of V rows")
        prob, alias = np.ascontiguousarray(noise[0], np.float64), np.ascontiguousarray(noise[1], np.int32)
        if prob.shape != (v,) or alias.shape != (v,) or alias.min() < 0 or alias.max() >= v:
            raise ConfigError(f"noise alias tables must be ({v},) with ids < {v}")
        points = np.zeros((1, 1), np.int32)
        codes = np.zeros((1, 1), np.uint8)
        code_lengths = np.zeros(1, np.int32)
    arrs = [np.ascontiguousarray(a, np.int64) for a in (starts, ends, bases, lengths)]
    n = tokens.shape[0]
    if any(a.shape != state.rng.shape for a in arrs) or (arrs[0] < 0).any() or (arrs[1] > n).any():
        raise ConfigError("part ranges must be (T,) arrays inside the corpus, one per LCG state")
    _kernels.sg_epoch_dynamic(syn0, syn1, tokens, *arrs, state.rng, keep, prob, alias,
                      points, codes, code_lengths, bool(use_hs), int(window), int(negative),
                      float(alpha0), float(min_alpha), int(epoch), int(epochs), int(max_sentence),
                      state.loss, state.pairs, state.words)


def sgd_step_ns(syn0, syn1neg, context: int, targets, alpha: float) -> float:
    """One NS step: input row `context`, targets[0] the predicted word, targets[1:] noise.
    Updates syn0/syn1neg in place and returns the pair's loss before the step."""
    syn0, syn1neg = _f32("syn0", syn0), _f32("syn1neg", syn1neg)
    targets = np.ascontiguousarray(targets, np.int32)
    if not 0 <= context < syn0.shape[0] or targets.min() < 0 or targets.max() >= syn1neg.shape[0]:
        raise ConfigError("word ids out of range")
    return float(_kernels.pair_step_ns(syn0, syn1neg, int(context), targets, float(alpha)))


def sgd_step_hs(syn0, syn1, context: int, point, code, alpha: float) -> float:
    """One HS step: input row `context` along inner rows `point` with branch bits `code`."""
    syn0, syn1 = _f32("syn0", syn0), _f32("syn1", syn1)
    point = np.ascontiguousarray(point, np.int32)
    code = np.ascontiguousarray(code, np.uint8)
    if point.shape != code.shape or point.ndim != 1:
        raise ConfigError("point and code must be 1-D arrays of one length")
    return float(_kernels.pair_step_hs(syn0, syn1, int(context), point, code, float(alpha)))


def draw_noise(noise: tuple[np.ndarray, np.ndarray], n: int, seed: int) -> np.ndarray:
    """n noise words drawn from the alias tables with the training kernel's LCG (for checks)."""
    prob, alias = np.ascontiguousarray(noise[0], np.float64), np.ascontiguousarray(noise[1], np.int32)
    if prob.size == 0 or prob.shape != alias.shape or n < 0:
        raise ConfigError("draw_noise needs alias tables of one non-zero length and n >= 0")
    out, _ = _kernels.draw_noise(prob, alias, np.uint64(derive_seed(seed, 0x1CC) | 1), int(n))
    return out

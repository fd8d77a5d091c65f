"""Diagonal-covariance Gaussian mixtures, one per tied HMM state (pdf): likelihoods, EM statistics,
re-estimation with variance floors, mixture splitting.

    ll = gmm.loglik(feats)          # (frames, num_pdfs) float32, numba on CPU
    ll = gmm.loglik(feats, device)  # the same through torch (GPU)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from speechlang.asr import _kernels
from speechlang.errors import DataError

LOG_2PI = math.log(2 * math.pi)


@dataclass
class GMMSet:
    """All mixtures in flat arrays: component g of pdf p is g in [start[p], start[p+1])."""

    weights: np.ndarray  # (G,) f64
    means: np.ndarray  # (G, D) f64
    vars: np.ndarray  # (G, D) f64
    start: np.ndarray  # (P+1,) int32

    @property
    def num_pdfs(self) -> int:
        return len(self.start) - 1

    @property
    def num_gauss(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @cached_property
    def packed(self):
        """(means f32, inverse variances f32, gconst f32, start int32) for the kernels."""
        inv = (1.0 / self.vars).astype(np.float32)
        with np.errstate(divide="ignore"):
            gconst = (np.log(self.weights) - 0.5 * (self.dim * LOG_2PI + np.log(self.vars).sum(1)))
        return (np.ascontiguousarray(self.means, np.float32), np.ascontiguousarray(inv),
                np.ascontiguousarray(gconst, np.float32), np.ascontiguousarray(self.start, np.int32))

    def loglik(self, feats: np.ndarray, device: torch.device | None = None,
               pdfs: np.ndarray | None = None) -> np.ndarray:
        """(T, D) features -> (T, P) float32 log p(x_t | pdf), or (T, K) for the K `pdfs` given.
        device None: the numba kernel on CPU; else torch on that device (all pdfs)."""
        x = _check_feats(feats, self.dim)
        if device is None:
            sel = np.arange(self.num_pdfs) if pdfs is None else np.asarray(pdfs, np.int64)
            if len(sel) and (sel.min() < 0 or sel.max() >= self.num_pdfs):
                raise DataError(f"pdf ids must be in 0..{self.num_pdfs - 1}")
            return _kernels.gmm_loglik(x, *self.packed, np.ascontiguousarray(sel, np.int64))
        out = loglik_torch(torch.from_numpy(x).to(device), self).cpu().numpy()
        return out if pdfs is None else np.ascontiguousarray(out[:, pdfs])

    @classmethod
    def single(cls, mean: np.ndarray, var: np.ndarray, num_pdfs: int) -> GMMSet:
        """Flat start: every pdf one Gaussian with the global mean and variance."""
        return cls(np.ones(num_pdfs), np.tile(mean, (num_pdfs, 1)), np.tile(var, (num_pdfs, 1)),
                   np.arange(num_pdfs + 1, dtype=np.int32))


def _check_feats(feats: np.ndarray, dim: int) -> np.ndarray:
    x = np.ascontiguousarray(feats, np.float32)
    if x.ndim != 2 or x.shape[1] != dim:
        raise DataError(f"features of shape {x.shape} do not match the model's dimension {dim}")
    return x


def loglik_torch(x: torch.Tensor, gmm: GMMSet) -> torch.Tensor:
    """(T, D) on any device -> (T, P): the quadratic expanded into matmuls, logsumexp per pdf."""
    dev = x.device
    inv = torch.as_tensor(1.0 / gmm.vars, dtype=torch.float32, device=dev)
    mu = torch.as_tensor(gmm.means, dtype=torch.float32, device=dev)
    with np.errstate(divide="ignore"):
        gconst = (np.log(gmm.weights) - 0.5 * (gmm.dim * LOG_2PI + np.log(gmm.vars).sum(1)
                                               + (gmm.means ** 2 / gmm.vars).sum(1)))
    x = x.to(torch.float32)
    comp = (torch.as_tensor(gconst, dtype=torch.float32, device=dev)
            - 0.5 * (x * x) @ inv.T + x @ (mu * inv).T)  # (T, G)
    sizes = np.diff(gmm.start)
    if (sizes == sizes[0]).all():
        return torch.logsumexp(comp.view(x.shape[0], gmm.num_pdfs, int(sizes[0])), dim=2)
    pdf_of = torch.as_tensor(np.repeat(np.arange(gmm.num_pdfs), sizes), device=dev)
    best = torch.full((x.shape[0], gmm.num_pdfs), -torch.inf, device=dev)
    best = best.scatter_reduce(1, pdf_of.expand(x.shape[0], -1), comp, "amax")
    s = torch.zeros_like(best).index_add_(1, pdf_of, torch.exp(comp - best[:, pdf_of]))
    return best + torch.log(s)


def component_posteriors(gmm: GMMSet, x: np.ndarray, pdf: np.ndarray, weight: np.ndarray):
    """Per aligned pdf p among the frames with weight > 0: yields (frame indices (n,), first
    component s, end e, posteriors (n, e - s) of p's components times the frame weights)."""
    keep = weight > 0
    for p in np.unique(pdf[keep]):
        idx = np.nonzero(keep & (pdf == p))[0]
        s, e = int(gmm.start[p]), int(gmm.start[p + 1])
        with np.errstate(divide="ignore"):
            ll = (np.log(gmm.weights[s:e]) - 0.5 * (gmm.dim * LOG_2PI + np.log(gmm.vars[s:e]).sum(1))
                  - 0.5 * (((x[idx, None, :] - gmm.means[s:e]) ** 2) / gmm.vars[s:e]).sum(2))  # (n, M)
        post = np.exp(ll - ll.max(1, keepdims=True))
        post *= (weight[idx] / post.sum(1))[:, None]
        yield idx, s, e, post


class GMMStats:
    """Accumulated zeroth, first and second order statistics per Gaussian."""

    def __init__(self, gmm: GMMSet):
        self.gmm = gmm
        self.occ = np.zeros(gmm.num_gauss)
        self.acc1 = np.zeros((gmm.num_gauss, gmm.dim))
        self.acc2 = np.zeros((gmm.num_gauss, gmm.dim))
        self.loglik = 0.0
        self.frames = 0.0
        self._packed = gmm.packed

    def add(self, feats: np.ndarray, frame: np.ndarray, pdf: np.ndarray, weight: np.ndarray) -> None:
        """Add (frame index, pdf, posterior weight) triples of one utterance."""
        x = _check_feats(feats, self.gmm.dim)
        if len(frame) and (pdf.min() < 0 or pdf.max() >= self.gmm.num_pdfs):
            raise DataError("alignment names a pdf the model does not have")
        self.loglik += _kernels.gmm_accumulate(
            x, np.ascontiguousarray(frame, np.int64), np.ascontiguousarray(pdf, np.int64),
            np.ascontiguousarray(weight, np.float64), *self._packed, self.occ, self.acc1, self.acc2)
        self.frames += float(np.sum(weight))


def reestimate(stats: GMMStats, var_floor: np.ndarray, min_count: float = 3.0) -> GMMSet:
    """M-step: new weights, means and diagonal variances floored at `var_floor` (D,).

    Components with occupancy below `min_count` keep their old mean and variance (a pdf with
    no data keeps all its parameters).
    """
    g = stats.gmm
    occ = stats.occ
    means, variances, weights = g.means.copy(), g.vars.copy(), g.weights.copy()
    ok = occ >= min_count
    means[ok] = stats.acc1[ok] / occ[ok, None]
    variances[ok] = np.maximum(stats.acc2[ok] / occ[ok, None] - means[ok] ** 2, var_floor)
    for p in range(g.num_pdfs):
        s, e = g.start[p], g.start[p + 1]
        tot = occ[s:e].sum()
        if tot > 0:
            w = np.maximum(occ[s:e] / tot, 1e-5)
            weights[s:e] = w / w.sum()
    return GMMSet(weights, means, variances, g.start.copy())


def split(gmm: GMMSet, occ_per_pdf: np.ndarray, target: int, power: float = 0.2,
          perturb: float = 0.2) -> GMMSet:
    """Grow the total number of Gaussians towards `target`, allocating to each pdf in proportion
    to occupancy**power (Kaldi's rule); each split halves the heaviest component and moves the
    two means apart by +-perturb standard deviations."""
    p_n = gmm.num_pdfs
    if target <= gmm.num_gauss:
        return gmm
    share = np.maximum(occ_per_pdf, 0) ** power
    share = share / share.sum() if share.sum() > 0 else np.full(p_n, 1.0 / p_n)
    want = np.maximum(np.floor(share * target + 0.5).astype(int), np.diff(gmm.start))
    # only pdfs with data may split; an occupancy of 20 frames per Gaussian at least
    want = np.minimum(want, np.maximum(np.diff(gmm.start), (occ_per_pdf // 20).astype(int)))
    w_out, m_out, v_out, start = [], [], [], [0]
    for p in range(p_n):
        s, e = gmm.start[p], gmm.start[p + 1]
        w, m, v = list(gmm.weights[s:e]), list(gmm.means[s:e]), list(gmm.vars[s:e])
        while len(w) < want[p]:
            k = int(np.argmax(w))
            d = perturb * np.sqrt(v[k])
            w[k] /= 2
            w.append(w[k])
            m.append(m[k] - d)
            v.append(v[k].copy())
            m[k] = m[k] + d
        w_out += w
        m_out += m
        v_out += v
        start.append(start[-1] + len(w))
    return GMMSet(np.array(w_out), np.array(m_out), np.array(v_out), np.array(start, np.int32))

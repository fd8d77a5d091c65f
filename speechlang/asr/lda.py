"""Spliced features, LDA and MLLT: the input transform of `train-tri --lda-dim` (Kaldi's
train_lda_mllt.sh: splice-feats, est-lda, est-mllt).

    t = InputTransform(context=3, static_dims=13, matrix=M)   # M (dim, 13 * 7)
    y = t(x)               # (T, D) features with deltas -> (T, dim): M splice(x[:, :13], 3)

The static block of the features (their first `static_dims` columns, the deltas dropped) is
spliced over +-context frames (edge frames repeated) and projected by M. M starts as LDA
(Fisher's discriminant with the aligned tied states as classes): with the within-class
covariance W = L L^T (Cholesky) and the between-class covariance B, M holds the leading
eigenvectors of L^-1 B L^-T mapped back by L^-1, so the projected within-class covariance is
the identity. MLLT (Gales 1999, semi-tied covariances) then rotates that space so that the
model's diagonal covariances fit it: A maximises

    Q(A) = beta log|det A| - 1/2 sum_i a_i G_i a_i^T,
    G_i  = sum_t,m gamma_tm / var_mi (y_t - mu_m)(y_t - mu_m)^T     (D, D) for each row i,

with the row-by-row update a_i = c_i G_i^-1 sqrt(beta / (c_i G_i^-1 c_i^T)) (c_i the cofactor
row of A), each step maximising Q over one row. The transform becomes A M and the means
A mu; the next re-estimation fits the variances in the new space.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechlang.asr.gmm import GMMSet, component_posteriors
from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_output


def splice(x: np.ndarray, context: int) -> np.ndarray:
    """(T, K) -> (T, K (2 context + 1)): frames t-context..t+context side by side, oldest
    first; frames beyond the edges repeat the edge frame."""
    t = x.shape[0]
    if context == 0 or t == 0:
        return x
    idx = np.clip(np.arange(t)[:, None] + np.arange(-context, context + 1), 0, t - 1)
    return x[idx].reshape(t, -1)


@dataclass
class InputTransform:
    context: int  # frames spliced each side
    static_dims: int  # K: columns of the features spliced (the statics before the deltas)
    matrix: np.ndarray  # (dim, K (2 context + 1)) float64

    @property
    def dim(self) -> int:
        return self.matrix.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(T, D >= K) features -> (T, dim) float32."""
        if x.ndim != 2 or x.shape[1] < self.static_dims:
            raise DataError(f"features of shape {x.shape} have fewer than the {self.static_dims} "
                            "static dimensions the model's LDA transform splices")
        s = splice(np.asarray(x[:, :self.static_dims], np.float64), self.context)
        return (s @ self.matrix.T).astype(np.float32)

    def same_as(self, other: InputTransform | None) -> bool:
        return (other is not None and other.context == self.context and
                other.static_dims == self.static_dims and other.matrix.shape == self.matrix.shape
                and np.allclose(other.matrix, self.matrix, rtol=1e-6, atol=1e-9))


def write_input_transform(path: str | os.PathLike, t: InputTransform) -> None:
    """transform.npz: matrix (dim, K (2c+1)), context, static_dims."""
    with atomic_output(path, "wb") as f:
        np.savez(f, matrix=t.matrix, context=t.context, static_dims=t.static_dims)


def read_input_transform(path: str | os.PathLike) -> InputTransform:
    try:
        z = np.load(Path(path))
        t = InputTransform(int(z["context"]), int(z["static_dims"]), np.asarray(z["matrix"], np.float64))
    except (KeyError, ValueError, OSError) as e:
        raise FormatError(f"{path}: not an LDA/MLLT transform file ({type(e).__name__}: {e})") from None
    if t.matrix.ndim != 2 or t.matrix.shape[1] != t.static_dims * (2 * t.context + 1):
        raise FormatError(f"{path}: matrix of shape {t.matrix.shape} does not fit {t.static_dims} "
                          f"static dimensions spliced +-{t.context}")
    return t


class LdaStats:
    """Per-class count and sum, and the total scatter, of spliced features (Kaldi's acc-lda)."""

    def __init__(self, dim: int, num_classes: int):
        self.count = np.zeros(num_classes)
        self.sum = np.zeros((num_classes, dim))
        self.scatter = np.zeros((dim, dim))

    def accumulate(self, x: np.ndarray, cls: np.ndarray, weight: np.ndarray) -> None:
        """x (T, D) spliced features, cls (T,) class ids, weight (T,) frame weights."""
        x = np.asarray(x, np.float64)
        if len(cls) != len(x) or len(weight) != len(x):
            raise DataError(f"LDA statistics: {len(x)} frames but {len(cls)} classes and "
                            f"{len(weight)} weights")
        np.add.at(self.count, cls, weight)
        np.add.at(self.sum, cls, x * weight[:, None])
        self.scatter += (x * weight[:, None]).T @ x


def estimate_lda(st: LdaStats, dim: int) -> tuple[np.ndarray, dict]:
    """(dim, D) LDA matrix (within-class covariance projected to the identity), and
    {"classes", "frames", "eigenvalues"} (the leading ratios of between- to within-class
    variance)."""
    n = st.count.sum()
    used = st.count > 0
    d = st.sum.shape[1]
    if not 1 <= dim <= d:
        raise DataError(f"--lda-dim {dim} must be in 1..{d} (the spliced dimension)")
    if used.sum() < 2 or n <= d:
        raise DataError(f"LDA needs at least two classes and more than {d} frames "
                        f"(got {int(used.sum())} classes, {n:.0f} frames)")
    mean = st.sum.sum(0) / n
    total = st.scatter / n - np.outer(mean, mean)
    class_means = st.sum[used] / st.count[used, None]
    between = (st.count[used, None] * (class_means - mean)).T @ (class_means - mean) / n
    within = total - between
    try:
        chol = np.linalg.cholesky(within)
    except np.linalg.LinAlgError:
        raise DataError("LDA: the within-class covariance is singular (constant or duplicated "
                        "feature dimensions?)") from None
    l_inv = np.linalg.inv(chol)
    evals, evecs = np.linalg.eigh(l_inv @ between @ l_inv.T)
    order = np.argsort(evals)[::-1][:dim]
    m = evecs[:, order].T @ l_inv
    return m, {"classes": int(used.sum()), "frames": round(float(n), 1),
               "eigenvalues": [round(float(v), 4) for v in evals[order][:10]]}


class MlltStats:
    """Per Gaussian of one GMM set: occupancy (G,), sums (G, D) and scatters (G, D, D); `g()`
    and `beta` give the G_i and beta of the module docstring."""

    def __init__(self, gmm: GMMSet):
        self.gmm = gmm
        self.occ = np.zeros(gmm.num_gauss)
        self.sum = np.zeros((gmm.num_gauss, gmm.dim))
        self.scatter = np.zeros((gmm.num_gauss, gmm.dim, gmm.dim))

    def accumulate(self, y: np.ndarray, pdf: np.ndarray, weight: np.ndarray) -> None:
        """y (T, D) transformed features, pdf (T,) aligned pdfs, weight (T,) frame weights;
        Gaussian posteriors within each frame's pdf."""
        y = np.asarray(y, np.float64)
        for idx, s, e, post in component_posteriors(self.gmm, y, pdf, weight):
            yp = y[idx]
            self.occ[s:e] += post.sum(0)
            self.sum[s:e] += post.T @ yp
            self.scatter[s:e] += (post.T[:, :, None] * yp).transpose(0, 2, 1) @ yp  # (M, D, D)

    @property
    def beta(self) -> float:
        return float(self.occ.sum())

    def g(self) -> np.ndarray:
        """(D, D, D): G_i = sum_m (scatter_m around mu_m) / var_mi."""
        mu = self.gmm.means
        s = (self.scatter - np.einsum("mi,mj->mij", self.sum, mu) - np.einsum("mi,mj->mij", mu, self.sum)
             + self.occ[:, None, None] * np.einsum("mi,mj->mij", mu, mu))
        return np.einsum("mjk,mi->ijk", s, 1.0 / self.gmm.vars)


def mllt_auxf(g: np.ndarray, beta: float, a: np.ndarray) -> float:
    """Q(A) / beta."""
    _, logdet = np.linalg.slogdet(a)
    return float(logdet - 0.5 * np.einsum("ij,ijk,ik->", a, g, a) / beta)


def estimate_mllt(st: MlltStats, iters: int = 100) -> tuple[np.ndarray, dict]:
    """(D, D) A from the identity by `iters` row-by-row sweeps; {"auxf_gain_per_frame",
    "frames"}."""
    d = st.gmm.dim
    a, beta = np.eye(d), st.beta
    if beta <= d:
        return a, {"frames": beta, "auxf_gain_per_frame": 0.0}
    g = st.g()
    try:
        g_inv = np.linalg.inv(g)
    except np.linalg.LinAlgError:
        raise DataError("MLLT: singular statistics") from None
    before = mllt_auxf(g, beta, a)
    for _ in range(iters):
        for i in range(d):
            c = np.linalg.inv(a)[:, i]  # cofactor row i / det A
            gc = g_inv[i] @ c
            a[i] = gc * math.sqrt(beta / float(c @ gc))
    return a, {"frames": round(beta, 1), "auxf_gain_per_frame": round(mllt_auxf(g, beta, a) - before, 5)}

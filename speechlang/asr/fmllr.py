"""fMLLR (constrained MLLR, Gales 1998): one affine feature transform per speaker.

    st = FmllrStats(dim)
    st.accumulate(gmm, x, pdf, weight)           # x (T, D) raw features, pdf (T,) aligned states
    W, info = estimate(st)                       # W (D, D+1) = [A b]; adapted x' = A x + b
    x_adapted = apply_transform(W, x)

The transform maps a speaker's features into the model space; it maximises the auxiliary
function (Povey & Saon 2006; Kaldi's fmllr-diag-gmm)

    Q(W) = beta log|det A| + sum_i (w_i . k_i - 1/2 w_i G_i w_i^T)

with the extended features xi_t = [x_t; 1] (D+1,) and, over frames t and the Gaussians m of the
frame's aligned pdf with posteriors gamma_tm (times the frame weight),

    beta = sum_t,m gamma_tm                                      (scalar, frames)
    k_i  = sum_t,m gamma_tm mu_mi / var_mi xi_t                  (D, D+1) for all rows i
    G_i  = sum_t,m gamma_tm / var_mi xi_t xi_t^T                 (D, D+1, D+1).

Gales' row-by-row update: for row i, with p_i = [cofactors of row i of A, 0] (taken as the
i-th column of A^-1, a multiple of the cofactors), w_i = (alpha p_i + k_i) G_i^-1 where alpha
solves a alpha^2 + b alpha - beta = 0 (a = p_i G_i^-1 p_i^T, b = p_i G_i^-1 k_i^T) and of the
two roots the one with the larger beta log|alpha a + b| - a alpha^2 / 2 is taken. Each row
update maximises Q over that row with the others fixed, so Q never decreases.

Gaussian posteriors within the aligned pdf are computed on the features under the current
transform (EM: `estimate` keeps them fixed; SAT and two-pass decoding recompute them).
Silence frames get `sil_weight` (0 leaves them out).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechlang.asr.gmm import GMMSet, component_posteriors
from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import atomic_output


@dataclass(frozen=True)
class FmllrConfig:
    iters: int = 10  # row-by-row sweeps over the D rows
    min_count: float = 50.0  # fewer (weighted) frames than this: the identity transform
    sil_weight: float = 0.0  # weight of frames aligned to the silence phone

    def __post_init__(self):
        if self.iters < 1 or self.min_count < 0 or not 0 <= self.sil_weight <= 1:
            raise ConfigError("fMLLR: iterations must be >= 1, --min-count >= 0, --sil-weight in [0, 1]")


def identity(dim: int) -> np.ndarray:
    """(D, D+1) [I 0]."""
    return np.hstack([np.eye(dim), np.zeros((dim, 1))])


def apply_transform(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(D, D+1) transform, (T, D) features -> (T, D) float32 A x + b."""
    d = x.shape[1]
    if w.shape != (d, d + 1):
        raise DataError(f"fMLLR transform of shape {w.shape} does not fit features of dimension {d}")
    return (x.astype(np.float64) @ w[:, :d].T + w[:, d]).astype(np.float32)


class FmllrStats:
    """Sufficient statistics beta, K (D, D+1), G (D, D+1, D+1) of one speaker."""

    def __init__(self, dim: int):
        self.dim = dim
        self.beta = 0.0
        self.k = np.zeros((dim, dim + 1))
        self.g = np.zeros((dim, dim + 1, dim + 1))

    def accumulate(self, gmm: GMMSet, x: np.ndarray, pdf: np.ndarray, weight: np.ndarray,
                   w: np.ndarray | None = None) -> None:
        """Add one utterance: raw features x (T, D), aligned pdf (T,), frame weights (T,).
        Gaussian posteriors within each frame's pdf come from the features under the
        transform `w` (default the identity)."""
        x = np.asarray(x, np.float64)
        d = self.dim
        if x.ndim != 2 or x.shape[1] != d or len(pdf) != len(x) or len(weight) != len(x):
            raise DataError(f"fMLLR statistics: features {x.shape}, {len(pdf)} pdfs and {len(weight)} "
                            f"weights do not fit dimension {d}")
        y = x if w is None else apply_transform(w, x).astype(np.float64)
        inv = 1.0 / gmm.vars
        wv = np.zeros((len(x), d))  # sum_m gamma_tm / var_m
        wk = np.zeros((len(x), d))  # sum_m gamma_tm mu_m / var_m
        for idx, s, e, post in component_posteriors(gmm, y, pdf, weight):
            wv[idx] = post @ inv[s:e]
            wk[idx] = post @ (gmm.means[s:e] * inv[s:e])
        keep = weight > 0
        xi = np.hstack([x, np.ones((len(x), 1))])
        self.beta += float(weight[keep].sum())
        self.k += wk.T @ xi
        outer = (xi[:, :, None] * xi[:, None, :]).reshape(len(x), -1)
        self.g += (wv.T @ outer).reshape(d, d + 1, d + 1)

    def __iadd__(self, other: FmllrStats) -> FmllrStats:
        self.beta += other.beta
        self.k += other.k
        self.g += other.g
        return self


def auxf(st: FmllrStats, w: np.ndarray) -> float:
    """Q(W) (see the module docstring); -inf when A is singular."""
    d = st.dim
    sign, logdet = np.linalg.slogdet(w[:, :d])
    if sign == 0:
        return -math.inf
    quad = np.einsum("ij,ijk,ik->", w, st.g, w)
    return float(st.beta * logdet + np.sum(w * st.k) - 0.5 * quad)


def gradient(st: FmllrStats, w: np.ndarray) -> np.ndarray:
    """dQ/dW (D, D+1): beta [A^-T 0] + K - [w_i G_i]_i."""
    d = st.dim
    grad = st.k - np.einsum("ij,ijk->ik", w, st.g)
    grad[:, :d] += st.beta * np.linalg.inv(w[:, :d]).T
    return grad


def estimate(st: FmllrStats, cfg: FmllrConfig = FmllrConfig(), w0: np.ndarray | None = None
             ) -> tuple[np.ndarray, dict]:
    """Gales' row-by-row update from `w0` (default identity): ((D, D+1) W, {"auxf_per_frame":
    [Q per sweep / beta, the first before any update], "frames": beta, "identity": bool})."""
    d = st.dim
    w = identity(d) if w0 is None else np.array(w0, np.float64)
    if st.beta < max(cfg.min_count, 1e-10):
        return identity(d), {"frames": st.beta, "identity": True, "auxf_per_frame": []}
    try:
        g_inv = np.linalg.inv(st.g)  # (D, D+1, D+1)
    except np.linalg.LinAlgError:
        raise DataError("fMLLR: singular statistics (constant features?)") from None
    hist = [auxf(st, w) / st.beta]
    for _ in range(cfg.iters):
        for i in range(d):
            p = np.zeros(d + 1)
            p[:d] = np.linalg.inv(w[:, :d])[:, i]  # cofactors of row i / det A
            gp = g_inv[i] @ p
            a = float(p @ gp)
            b = float(gp @ st.k[i])
            disc = math.sqrt(b * b + 4 * a * st.beta)
            roots = ((-b + disc) / (2 * a), (-b - disc) / (2 * a))
            alpha = max(roots, key=lambda r: st.beta * math.log(abs(r * a + b)) - 0.5 * r * r * a)
            w[i] = g_inv[i] @ (alpha * p + st.k[i])
        hist.append(auxf(st, w) / st.beta)
    return w, {"frames": st.beta, "identity": False, "auxf_per_frame": hist}


def frame_weights(phone: np.ndarray, silence: int, sil_weight: float) -> np.ndarray:
    """(T,) 1 per frame, `sil_weight` on frames aligned to the silence phone."""
    return np.where(np.asarray(phone) == silence, sil_weight, 1.0)


def estimate_speakers(gmm: GMMSet, items, utt2spk: Mapping[str, str], cfg: FmllrConfig,
                      current: Mapping[str, np.ndarray] | None = None) -> tuple[dict, dict]:
    """Per-speaker transforms from (utt, raw features, pdf (T,), weights (T,)) items; posteriors
    under `current` transforms (identity when absent), which also start the update.
    Returns ({speaker: W}, summary with frames and the auxiliary-function gain per frame)."""
    stats: dict[str, FmllrStats] = {}
    for u, x, pdf, wt in items:
        spk = utt2spk[u]
        st = stats.setdefault(spk, FmllrStats(x.shape[1]))
        st.accumulate(gmm, x, pdf, wt, (current or {}).get(spk))
    out, gain, frames, n_id = {}, 0.0, 0.0, 0
    for spk, st in stats.items():
        w, info = estimate(st, cfg, None)
        out[spk] = w
        if info["identity"]:
            n_id += 1
            continue
        gain += (info["auxf_per_frame"][-1] - info["auxf_per_frame"][0]) * st.beta
        frames += st.beta
    return out, {"speakers": len(out), "identity": n_id, "frames": round(frames, 1),
                 "auxf_gain_per_frame": round(gain / max(frames, 1e-9), 4)}


def write_transforms(path: str | os.PathLike, transforms: Mapping[str, np.ndarray]) -> None:
    """trans.npz: speakers (S,) str, W (S, D, D+1) float64."""
    spk = sorted(transforms)
    with atomic_output(path, "wb") as f:
        np.savez(f, speakers=np.array(spk), W=np.stack([transforms[s] for s in spk]))


def read_transforms(path: str | os.PathLike) -> dict[str, np.ndarray]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such transform file")
    try:
        z = np.load(p)
        spk, w = [str(s) for s in z["speakers"]], z["W"]
    except (KeyError, ValueError, OSError) as e:
        raise FormatError(f"{p}: not an fMLLR transform file ({type(e).__name__}: {e})") from None
    if w.ndim != 3 or w.shape[0] != len(spk) or w.shape[2] != w.shape[1] + 1:
        raise FormatError(f"{p}: W has shape {w.shape}; expected (speakers, D, D+1)")
    return dict(zip(spk, w, strict=True))


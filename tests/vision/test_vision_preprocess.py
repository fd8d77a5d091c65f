"""Scaling, GCN and LCN against direct numpy computations; standardization."""

from __future__ import annotations

import numpy as np
import torch

from speechlang.vision.preprocess import (
    PreprocessConfig,
    fit_stats,
    global_contrast_normalize,
    local_contrast_normalize,
    preprocess,
)


def _images(n=3, c=2, h=7, w=6, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w))


def test_gcn_matches_numpy():
    x = _images()
    got = global_contrast_normalize(torch.tensor(x), scale=2.0, bias=0.1).numpy()
    for i in range(len(x)):
        v = x[i] - x[i].mean()
        np.testing.assert_allclose(got[i], 2.0 * v / np.sqrt(0.1 + (v ** 2).mean()), rtol=1e-6)


def _lcn_numpy(img, size, sigma, eps):
    """Jarrett et al. 2009 LCN by explicit windows, the Gaussian renormalized inside the image."""
    c, h, w = img.shape
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    g /= g.sum() * c
    pad = size // 2

    def local_avg(a):
        out = np.zeros((h, w))
        for y in range(h):
            for x in range(w):
                tot = mass = 0.0
                for dy in range(-pad, pad + 1):
                    for dx in range(-pad, pad + 1):
                        yy, xx = y + dy, x + dx
                        if 0 <= yy < h and 0 <= xx < w:
                            wt = g[dy + pad, dx + pad]
                            tot += wt * a[:, yy, xx].sum()
                            mass += wt * c
                out[y, x] = tot / mass
        return out

    v = img - local_avg(img)[None]
    s = np.sqrt(local_avg(v * v))
    return v / np.maximum(np.maximum(s, s.mean()), eps)[None]


def test_lcn_matches_numpy():
    x = _images(n=2, c=2, h=8, w=7, seed=1)
    got = local_contrast_normalize(torch.tensor(x, dtype=torch.float32), size=5, sigma=1.5).numpy()
    for i in range(len(x)):
        np.testing.assert_allclose(got[i], _lcn_numpy(x[i], 5, 1.5, 1e-6), rtol=1e-4, atol=1e-5)


def test_scale_and_standardize():
    x = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (20, 3, 5, 5), dtype=np.uint8))
    unit = preprocess(x, PreprocessConfig(standardize=False))
    np.testing.assert_allclose(unit.numpy(), x.numpy() / 255.0, rtol=1e-6)
    sym = preprocess(x, PreprocessConfig(scale="symmetric", standardize=False))
    np.testing.assert_allclose(sym.numpy(), x.numpy() / 127.5 - 1, rtol=1e-5, atol=1e-6)
    cfg = PreprocessConfig(gcn=True, standardize=True)
    z = preprocess(x, cfg, fit_stats(x, cfg)).double()
    np.testing.assert_allclose(z.mean((0, 2, 3)).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(z.std((0, 2, 3), unbiased=False).numpy(), 1, atol=1e-4)

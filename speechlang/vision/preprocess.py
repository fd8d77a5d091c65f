"""Pixel preprocessing as torch ops on the chosen device: scaling, global and local contrast
normalization, per-channel standardization (in that order).

    stats = fit_stats(x_train_uint8, cfg)
    x = preprocess(x_uint8, cfg, stats)      # (N, C, H, W) uint8 -> float32, same device
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from speechlang.errors import ConfigError

SCALES = ("unit", "symmetric")


@dataclass(frozen=True)
class PreprocessConfig:
    scale: str = field(default="unit", metadata={"help": "unit: pixels to [0, 1]; symmetric: to [-1, 1]"})
    gcn: bool = field(default=False, metadata={"help": "global contrast normalization per image"})
    gcn_scale: float = 1.0  # target root-mean-square contrast of each image
    gcn_bias: float = 0.0   # lambda under the square root (regularizes near-blank images)
    lcn: bool = field(default=False, metadata={"help": "local contrast normalization (Jarrett et al. 2009)"})
    lcn_size: int = 9       # Gaussian window side in pixels (odd)
    lcn_sigma: float = 2.0  # Gaussian window width in pixels
    standardize: bool = field(default=True, metadata={"help": "per-channel mean 0, std 1 (training-set stats)"})
    eps: float = 1e-6       # floor of every divisor

    def check(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"--scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if self.lcn_size < 1 or self.lcn_size % 2 == 0:
            raise ConfigError(f"--lcn-size must be an odd number of pixels, got {self.lcn_size}")
        if self.lcn_sigma <= 0 or self.gcn_scale <= 0 or self.gcn_bias < 0:
            raise ConfigError("lcn_sigma and gcn_scale must be > 0 and gcn_bias >= 0")


def scale_pixels(x: torch.Tensor, mode: str = "unit") -> torch.Tensor:
    """uint8 (..., H, W) -> float32 in [0, 1] ("unit") or [-1, 1] ("symmetric")."""
    y = x.float() / 255.0
    return y * 2 - 1 if mode == "symmetric" else y


def global_contrast_normalize(x: torch.Tensor, scale: float = 1.0, bias: float = 0.0,
                              eps: float = 1e-6) -> torch.Tensor:
    """(N, C, H, W): per image, subtract the mean and divide by max(eps, sqrt(bias + mean of
    squares)), times `scale` (Goodfellow et al. 2013, Maxout networks, section 5.1)."""
    flat = x.reshape(len(x), -1)
    centred = flat - flat.mean(1, keepdim=True)
    norm = torch.sqrt(bias + centred.pow(2).mean(1, keepdim=True)).clamp_min(eps)
    return (scale * centred / norm).reshape(x.shape)


def gaussian_window(size: int, sigma: float, channels: int, device=None) -> torch.Tensor:
    """(1, C, size, size) weights summing to 1 over channels and space."""
    r = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma * sigma))
    g = g / g.sum() / channels
    return g.expand(1, channels, size, size).float()


def local_contrast_normalize(x: torch.Tensor, size: int = 9, sigma: float = 2.0,
                             eps: float = 1e-6) -> torch.Tensor:
    """(N, C, H, W) -> same: Jarrett et al. 2009, section 2.1. With w a Gaussian window summing
    to 1 over channels and space: v = x - sum w*x (subtractive); s = sqrt(sum w*v^2);
    y = v / max(mean(s over the image), s, eps) (divisive). At the borders w is renormalized
    over the pixels inside the image."""
    n, c, h, wd = x.shape
    w = gaussian_window(size, sigma, c, x.device)
    pad = size // 2
    mass = F.conv2d(torch.ones(1, c, h, wd, device=x.device), w, padding=pad)  # (1, 1, H, W)
    mean = F.conv2d(x, w, padding=pad) / mass
    v = x - mean
    s = torch.sqrt((F.conv2d(v * v, w, padding=pad) / mass).clamp_min(0))
    c_mean = s.mean((2, 3), keepdim=True)
    return v / torch.maximum(torch.maximum(s, c_mean), torch.tensor(eps, device=x.device))


def fit_stats(x: torch.Tensor, cfg: PreprocessConfig, chunk: int = 4096) -> dict:
    """Per-channel mean and std of the preprocessed (before standardization) training images."""
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    sq = torch.zeros_like(total)
    for i in range(0, len(x), chunk):
        y = _normalize(x[i:i + chunk], cfg).double()
        total += y.sum((0, 2, 3))
        sq += (y * y).sum((0, 2, 3))
    n = len(x) * x.shape[2] * x.shape[3]
    mean = total / n
    std = torch.sqrt((sq / n - mean * mean).clamp_min(0))
    return {"mean": mean.tolist(), "std": std.tolist()}


def _normalize(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    y = scale_pixels(x, cfg.scale)
    if cfg.gcn:
        y = global_contrast_normalize(y, cfg.gcn_scale, cfg.gcn_bias, cfg.eps)
    if cfg.lcn:
        y = local_contrast_normalize(y, cfg.lcn_size, cfg.lcn_sigma, cfg.eps)
    return y


def preprocess(x: torch.Tensor, cfg: PreprocessConfig, stats: dict | None = None,
               chunk: int = 4096) -> torch.Tensor:
    """(N, C, H, W) uint8 -> float32 on x's device, in chunks of `chunk` images."""
    cfg.check()
    if cfg.standardize and not stats:
        raise ConfigError("per-channel standardization needs training-set statistics (fit_stats)")
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    if cfg.standardize:
        mean = torch.tensor(stats["mean"], device=x.device).view(1, -1, 1, 1)
        std = torch.tensor([max(s, cfg.eps) if math.isfinite(s) else 1.0 for s in stats["std"]],
                           device=x.device).view(1, -1, 1, 1)
    for i in range(0, len(x), chunk):
        y = _normalize(x[i:i + chunk], cfg)
        out[i:i + chunk] = (y - mean) / std if cfg.standardize else y
    return out

"""Training-time augmentation as batched torch ops on the images' device: random crop with
padding, horizontal/vertical flips, small sub-pixel translations and random erasing. Randomness comes only
from the `torch.Generator` passed in (seeded from (seed, rank, epoch)), never the global RNG.

    gen = epoch_generator(seed=1, epoch=3, rank=0, device=x.device)
    xb = augment(xb, AugmentConfig(crop_padding=2, hflip=True), gen)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from speechlang.accel import derive_seed
from speechlang.errors import ConfigError


@dataclass(frozen=True)
class AugmentConfig:
    crop_padding: int = field(default=0, metadata={"help": "pad by P pixels, crop back at a random place (0: off)"})
    hflip: bool = field(default=False, metadata={"help": "mirror left-right with probability 1/2"})
    vflip: bool = field(default=False, metadata={"help": "flip upside down with probability 1/2"})
    translate: float = field(default=0.0, metadata={"help": "shift by up to this many pixels, bilinear (0: off)"})
    erase: float = field(default=0.0, metadata={"help": "random erasing: probability of noise in a random rectangle"})

    def check(self) -> None:
        if self.crop_padding < 0 or self.translate < 0:
            raise ConfigError("--crop-padding and --translate must be >= 0")
        if not 0 <= self.erase <= 1:
            raise ConfigError("--erase must be a probability in [0, 1]")

    @property
    def active(self) -> bool:
        return bool(self.crop_padding or self.hflip or self.vflip or self.translate or self.erase)


def epoch_generator(seed: int, epoch: int, rank: int, device: torch.device) -> torch.Generator:
    """A generator on `device` seeded from (seed, rank, epoch)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(seed, rank, epoch, 0xA06))
    return gen


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """(N, C, H, W): zero-pad by `padding` and crop an H x W window at a uniform random offset."""
    if padding <= 0:
        return x
    n, c, h, w = x.shape
    xp = F.pad(x, (padding, padding, padding, padding))
    side = 2 * padding + 1
    offset = torch.randint(0, side * side, (n,), generator=gen, device=x.device)
    out = torch.empty_like(x)
    # one slice per distinct offset (at most side^2) instead of a per-pixel gather
    for o in torch.unique(offset).tolist():
        sel = offset == o
        oy, ox = divmod(o, side)
        out[sel] = xp[sel, :, oy:oy + h, ox:ox + w]
    return out


def random_flip(x: torch.Tensor, dim: int, gen: torch.Generator) -> torch.Tensor:
    """(N, C, H, W): flip each image along `dim` (3: left-right, 2: up-down) with probability 1/2."""
    mask = torch.rand(len(x), generator=gen, device=x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(dim), x)


def random_translate(x: torch.Tensor, max_shift: float, gen: torch.Generator) -> torch.Tensor:
    """(N, C, H, W): shift each image by (dx, dy) uniform in [-max_shift, max_shift] pixels,
    bilinear, zeros coming in at the borders."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    shift = (torch.rand(n, 2, generator=gen, device=x.device) * 2 - 1) * max_shift
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = -shift[:, 0] * 2 / w  # grid coordinates span [-1, 1]
    theta[:, 1, 2] = -shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_erase(x: torch.Tensor, p: float, gen: torch.Generator, area: tuple[float, float] = (0.02, 0.4),
                 log_ratio: tuple[float, float] = (math.log(0.3), math.log(1 / 0.3))) -> torch.Tensor:
    """Random erasing (Zhong et al. 2017) of a float batch (N, C, H, W): with probability p an
    image gets a rectangle of `area` (fraction of H*W) and aspect ratio exp(log_ratio) (height /
    width), clipped to the image, filled with N(0, 1) noise (the data are standardized)."""
    n, c, h, w = x.shape
    u = torch.rand(n, 5, generator=gen, device=x.device, dtype=torch.float64)
    s = (area[0] + u[:, 0] * (area[1] - area[0])) * h * w
    r = torch.exp(log_ratio[0] + u[:, 1] * (log_ratio[1] - log_ratio[0]))
    eh = torch.sqrt(s * r).round().clamp(1, h)
    ew = torch.sqrt(s / r).round().clamp(1, w)
    y0 = (u[:, 2] * (h - eh + 1)).floor()
    x0 = (u[:, 3] * (w - ew + 1)).floor()
    rows = torch.arange(h, device=x.device, dtype=torch.float64)
    cols = torch.arange(w, device=x.device, dtype=torch.float64)
    in_rows = (rows >= y0[:, None]) & (rows < (y0 + eh)[:, None])   # (N, H)
    in_cols = (cols >= x0[:, None]) & (cols < (x0 + ew)[:, None])   # (N, W)
    mask = in_rows[:, :, None] & in_cols[:, None, :] & (u[:, 4] < p)[:, None, None]
    noise = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    return torch.where(mask[:, None], noise, x)


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Apply the configured augmentations to a float batch (N, C, H, W); labels are unchanged."""
    if cfg.crop_padding:
        x = random_crop(x, cfg.crop_padding, gen)
    if cfg.hflip:
        x = random_flip(x, 3, gen)
    if cfg.vflip:
        x = random_flip(x, 2, gen)
    if cfg.translate:
        x = random_translate(x, cfg.translate, gen)
    if cfg.erase:
        x = random_erase(x, cfg.erase, gen)
    return x

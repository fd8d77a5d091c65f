"""Augmentation keeps shapes and labels, does what it says, and repeats from (seed, epoch)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from speechlang.accel.distributed import DistEnv
from speechlang.vision.augment import (
    AugmentConfig,
    augment,
    epoch_generator,
    random_crop,
    random_erase,
    random_flip,
    random_translate,
)
from speechlang.vision.train import make_batches


def _x(n=16):
    return torch.rand(n, 2, 9, 8, generator=torch.Generator().manual_seed(0))


def test_crop_is_a_window_of_the_padded_image():
    x = _x()
    out = random_crop(x, 2, epoch_generator(1, 0, 0, x.device))
    assert out.shape == x.shape
    xp = F.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if torch.equal(xp[i, :, dy:dy + 9, dx:dx + 8], out[i])]
        assert hits, f"image {i} is not a crop"


def test_flip_is_mirror_or_identity():
    x = _x(64)
    out = random_flip(x, 3, epoch_generator(1, 0, 0, x.device))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(len(x))]
    same = [torch.equal(out[i], x[i]) for i in range(len(x))]
    assert all(a or b for a, b in zip(flipped, same, strict=True))
    assert 10 < sum(flipped) < 54  # about half


def test_integer_translation_is_a_shift_with_zero_fill():
    x = _x(4)
    gen = epoch_generator(3, 0, 0, x.device)
    state = gen.get_state()
    shift = (torch.rand(4, 2, generator=gen) * 2 - 1) * 2.0
    gen.set_state(state)
    out = random_translate(x, 2.0, gen)
    assert out.shape == x.shape
    # compare with numpy bilinear interpolation of the shifted image
    for i in range(4):
        dx, dy = shift[i].tolist()
        img = x[i].numpy()
        want = np.zeros_like(img)
        for r in range(9):
            for c in range(8):
                sy, sx = r - dy, c - dx
                y0, x0 = int(np.floor(sy)), int(np.floor(sx))
                for yy, wy in ((y0, 1 - (sy - y0)), (y0 + 1, sy - y0)):
                    for xx, wx in ((x0, 1 - (sx - x0)), (x0 + 1, sx - x0)):
                        if 0 <= yy < 9 and 0 <= xx < 8:
                            want[:, r, c] += wy * wx * img[:, yy, xx]
        np.testing.assert_allclose(out[i].numpy(), want, atol=1e-5)


def test_erasing_replaces_one_rectangle_with_the_given_probability():
    x = torch.full((2000, 2, 28, 28), 7.0)
    out = random_erase(x, 0.5, epoch_generator(1, 0, 0, x.device))
    changed = out != 7.0                                        # noise is never exactly 7
    erased = changed.flatten(1).any(1)
    assert 0.45 < float(erased.double().mean()) < 0.55
    for i in torch.nonzero(erased)[:200, 0].tolist():
        m = changed[i, 0]
        assert torch.equal(changed[i, 1], m)                    # every channel, same place
        rows, cols = m.any(1).nonzero()[:, 0], m.any(0).nonzero()[:, 0]
        box = m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert bool(box.all()) and int(m.sum()) == box.numel()  # one filled rectangle
        assert 1 <= box.numel() <= 0.4 * 28 * 28 + 28           # area fraction <= 0.4 (rounding)
    frac = changed[erased].flatten(1).double().mean()
    assert 0.15 < float(frac) < 0.27                            # mean of U(0.02, 0.4) is 0.21, clipped
    assert torch.equal(random_erase(x, 0.0, epoch_generator(1, 0, 0, x.device)), x)


def test_batches_keep_labels_and_repeat_by_seed_epoch():
    x = _x(40)
    y = torch.arange(40)
    cfg = AugmentConfig(crop_padding=1, hflip=True, translate=0.5)
    b = make_batches(x, y, batch_size=8, seed=5, aug=cfg, channels_last=False)
    env = DistEnv()
    e0 = list(b(0, env))
    assert all(xb.shape == (len(yb), 2, 9, 8) for xb, yb in e0)
    assert sorted(torch.cat([yb for _, yb in e0]).tolist()) == list(range(40))
    for xb, yb in e0:  # augmented image keeps its label: the same content moved, mean close
        assert torch.allclose(xb.mean((1, 2, 3)), x[yb].mean((1, 2, 3)), atol=0.25)
    again = list(b(0, env))
    assert all(torch.equal(a[0], c[0]) and torch.equal(a[1], c[1]) for a, c in zip(e0, again, strict=True))
    e1 = list(b(1, env))
    assert not torch.equal(torch.cat([a for a, _ in e0]), torch.cat([a for a, _ in e1]))


def test_global_rng_untouched():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    augment(_x(), AugmentConfig(crop_padding=2, hflip=True, vflip=True, translate=1.0),
            epoch_generator(1, 0, 0, torch.device("cpu")))
    assert torch.equal(torch.rand(3), want)

"""Small generated image sets for the vision tests (nothing read from the shared data folder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechlang.vision.idx import write_idx


def quadrant_images(n: int, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n grey images (n, size, size) uint8: class k = a bright 4x4 square in quadrant k, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    half = size // 2
    for i, k in enumerate(y):
        r0, c0 = (k // 2) * half + rng.integers(0, half - 4 + 1), (k % 2) * half + rng.integers(0, half - 4 + 1)
        x[i, r0:r0 + 4, c0:c0 + 4] = 200 + rng.integers(0, 55)
    return x, y.astype(np.uint8)


@pytest.fixture
def tiny_idx(tmp_path):
    """(train images path, test images path) of a 4-class 12x12 IDX set (gz train, plain test)."""
    x, y = quadrant_images(400, seed=1)
    xt, yt = quadrant_images(120, seed=2)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", xt)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", yt)
    return tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "t10k-images-idx3-ubyte"


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: repeatable and fast on a shared machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

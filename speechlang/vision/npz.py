"""NPZ image sets: reader, writer and validator.

An NPZ holds `x` (N, H, W) or (N, H, W, C) images, uint8 or float in [0, 1], `y` (N,) integer
labels, and optionally `classes` (K,) class names.

    x, y, classes = read_npz("train.npz")   # x (N, C, H, W) uint8, y (N,) int64
"""

from __future__ import annotations

import os

import numpy as np

from speechlang.errors import FormatError
from speechlang.io import atomic_output, display_name, load_npz


def read_npz(path: str | os.PathLike, *, x_key: str = "x",
             y_key: str = "y") -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Images (N, C, H, W) uint8, labels (N,) int64 and class names (or None)."""
    name = display_name(path)
    z = load_npz(path)
    if x_key not in z or y_key not in z:
        raise FormatError(f"{name}: NPZ needs arrays {x_key!r} and {y_key!r}, has {sorted(z)}")
    x, y = z[x_key], z[y_key]
    classes = [str(c) for c in z["classes"].ravel()] if "classes" in z else None
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        raise FormatError(f"{name}: {x_key!r} must be (N, H, W) or (N, H, W, C) with C = 1 or 3, "
                          f"got shape {x.shape}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise FormatError(f"{name}: {y_key!r} must be 1-D integer labels, got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise FormatError(f"{name}: {len(x)} images but {len(y)} labels")
    if x.dtype.kind == "f":
        if not np.isfinite(x).all() or x.min(initial=0) < 0 or x.max(initial=0) > 1:
            raise FormatError(f"{name}: float images must be finite and in [0, 1]")
        x = np.rint(x * 255)
    elif x.dtype != np.uint8:
        raise FormatError(f"{name}: images must be uint8 or float in [0, 1], got {x.dtype}")
    x = np.ascontiguousarray(np.moveaxis(x, 3, 1), np.uint8)
    return x, y.astype(np.int64), classes


def write_npz(path: str | os.PathLike, x: np.ndarray, y: np.ndarray,
              classes: list[str] | None = None) -> None:
    """Write images (N, H, W[, C]) and labels (N,) as a compressed NPZ, atomically."""
    arrays = {"x": np.asarray(x), "y": np.asarray(y)}
    if classes is not None:
        arrays["classes"] = np.asarray(classes, dtype=str)
    with atomic_output(path, "wb") as f:
        np.savez_compressed(f, **arrays)

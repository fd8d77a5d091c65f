"""Labelled image sets from IDX pairs, NPZ files or image folders, and the validation split.

A PATH names the data by its form:
- an IDX images file (`train-images-idx3-ubyte[.gz]`; labels read from the `labels-idx1` twin),
- an `.npz` file with `x`, `y` (and optional `classes`),
- a directory with one sub-folder per class holding PNG/PGM/PPM images (sorted names = labels).

    ds = load_images("data/fashion/train-images-idx3-ubyte.gz")
    train, val = split_validation(ds, 5000, seed=1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import display_name, open_input
from speechlang.vision.idx import read_idx_dataset
from speechlang.vision.npz import read_npz
from speechlang.vision.png import decode_png, is_png
from speechlang.vision.pnm import decode_pnm, is_pnm

IMAGE_SUFFIXES = (".png", ".pgm", ".ppm", ".pnm")
SIZE_POLICIES = ("error", "resize")


@dataclass
class ImageSet:
    """x (N, C, H, W) uint8, y (N,) int64 labels in [0, len(classes)), class names, source path."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.y)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])


def read_image(path: str | os.PathLike) -> np.ndarray:
    """One PNG/PGM/PPM file (recognized by content) -> (H, W, C) uint8, C = 1 or 3."""
    name = display_name(path)
    with open_input(path, allow_gzip=False) as f:
        data = f.read()
    if is_png(data):
        return decode_png(data, name)
    if is_pnm(data):
        return decode_pnm(data, name)
    if data[:3] == b"\xff\xd8\xff":
        raise FormatError(f"{name}: JPEG is not supported; convert to PNG (e.g. `convert x.jpg x.png`)")
    raise FormatError(f"{name}: not a PNG or PGM/PPM image")


def resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, C, *size) uint8, bilinear with antialiasing."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    t = torch.from_numpy(np.ascontiguousarray(x)).float()
    t = F.interpolate(t, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return t.round().clamp(0, 255).to(torch.uint8).numpy()


def stack_images(images: list[np.ndarray], names: list[str], *, size: tuple[int, int] | None = None,
                 on_size_mismatch: str = "error", channels: int | None = None) -> np.ndarray:
    """(H, W, C) images -> (N, C, H, W) uint8. Sizes differing from `size` (default: the first
    image's) are resized or rejected per `on_size_mismatch`; grey is repeated up to `channels`."""
    if on_size_mismatch not in SIZE_POLICIES:
        raise ConfigError(f"--on-size-mismatch must be one of {', '.join(SIZE_POLICIES)}")
    if not images:
        raise DataError("no images")
    target = tuple(size) if size else images[0].shape[:2]
    chans = channels or max(im.shape[2] for im in images)
    out = np.empty((len(images), chans, *target), np.uint8)
    for i, (im, name) in enumerate(zip(images, names, strict=True)):
        if im.shape[2] != chans:
            if im.shape[2] == 1:
                im = np.repeat(im, chans, axis=2)
            else:  # colour to grey, ITU-R BT.601 luma
                im = np.rint(im.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
                im = im.astype(np.uint8)[..., None]
        chw = np.moveaxis(im, 2, 0)[None]
        if chw.shape[2:] != target:
            if on_size_mismatch == "error":
                raise DataError(f"{name}: image is {chw.shape[3]}x{chw.shape[2]} but expected "
                                f"{target[1]}x{target[0]}; pass --on-size-mismatch resize to resize")
            chw = resize(chw, target)
        out[i] = chw[0]
    return out


def read_image_folder(root: str | os.PathLike, *, size: tuple[int, int] | None = None,
                      on_size_mismatch: str = "error") -> ImageSet:
    """A directory with one sub-folder per class (sorted names give labels 0..K-1)."""
    rootp = Path(root)
    classes = sorted(d.name for d in rootp.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class sub-folders (expected {root}/CLASS/IMAGE.png)")
    images, names, labels = [], [], []
    for k, cls in enumerate(classes):
        files = sorted(p for p in (rootp / cls).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{rootp / cls}: class folder has no images ({', '.join(IMAGE_SUFFIXES)}); "
                            "add images or remove the folder")
        for p in files:
            images.append(read_image(p))
            names.append(str(p))
            labels.append(k)
    x = stack_images(images, names, size=size, on_size_mismatch=on_size_mismatch)
    return ImageSet(x, np.asarray(labels, np.int64), classes, str(root))


def load_images(path: str | os.PathLike, *, num_classes: int | None = None,
                classes: list[str] | None = None, size: tuple[int, int] | None = None,
                on_size_mismatch: str = "error") -> ImageSet:
    """Load a labelled image set (IDX, NPZ or class folders; see the module docstring).

    Labels must lie in [0, num_classes) (default: 0..max label). Given `classes` (a trained
    model's), a folder's class names must match them.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{path}: no such file or directory")
    if p.is_dir():
        ds = read_image_folder(p, size=size, on_size_mismatch=on_size_mismatch)
        if classes is not None and ds.classes != list(classes):
            unknown = sorted(set(ds.classes) - set(classes))
            if unknown:
                raise DataError(f"{path}: class folders {unknown} are not among the model's classes "
                                f"{list(classes)}")
            index = {c: i for i, c in enumerate(classes)}
            ds = replace(ds, y=np.array([index[ds.classes[k]] for k in ds.y], np.int64),
                         classes=list(classes))
    else:
        if p.suffix == ".npz":
            x, y, names = read_npz(p)
        else:
            x, y = read_idx_dataset(p)
            names = None
        if size is not None and tuple(x.shape[2:]) != tuple(size):
            if on_size_mismatch == "error":
                raise DataError(f"{path}: images are {x.shape[3]}x{x.shape[2]} but expected "
                                f"{size[1]}x{size[0]}; pass --on-size-mismatch resize to resize")
            x = resize(x, size)
        k = num_classes or (len(classes) if classes else None) or (len(names) if names else None)
        k = k or int(y.max(initial=-1)) + 1
        ds = ImageSet(x, y, list(classes or names or [str(i) for i in range(k)]), str(path))
    if len(ds) == 0:
        raise DataError(f"{path}: no images")
    k = num_classes or len(ds.classes)
    bad = np.flatnonzero((ds.y < 0) | (ds.y >= k))
    if bad.size:
        raise DataError(f"{path}: label {ds.y[bad[0]]} of item {bad[0]} is out of range 0..{k - 1} "
                        f"({bad.size} such labels); check the labels or --num-classes")
    if num_classes and len(ds.classes) != num_classes:
        ds = replace(ds, classes=[str(i) for i in range(num_classes)])
    return ds


def split_validation(ds: ImageSet, valid: float, *, seed: int) -> tuple[ImageSet, ImageSet | None]:
    """Hold out `valid` items (a count >= 1, or a fraction < 1) chosen by a permutation seeded
    from `seed`; returns (train, validation or None when valid == 0)."""
    n = len(ds)
    count = int(round(valid * n)) if 0 < valid < 1 else int(valid)
    if valid < 0 or count != valid and valid >= 1:
        raise ConfigError(f"--valid must be a fraction in [0, 1) or a whole count, got {valid}")
    if count == 0:
        return ds, None
    if count >= n:
        raise ConfigError(f"--valid {valid} leaves no training images out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    va, tr = np.sort(order[:count]), np.sort(order[count:])
    return (ImageSet(ds.x[tr], ds.y[tr], ds.classes, ds.source),
            ImageSet(ds.x[va], ds.y[va], ds.classes, ds.source + " (validation)"))

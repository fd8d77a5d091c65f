"""The IDX format of MNIST and Fashion-MNIST: reader, writer and validator (gzip or not).

Layout (LeCun's MNIST page): a big-endian header `0x00 0x00 TYPE NDIM`, then NDIM big-endian
uint32 dimensions, then the data in C order. TYPE 0x08 = uint8, 0x09 = int8, 0x0B = int16,
0x0C = int32, 0x0D = float32, 0x0E = float64.

    x = read_idx("train-images-idx3-ubyte.gz")      # (60000, 28, 28) uint8
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from speechlang.errors import FormatError
from speechlang.io import atomic_output, display_name, open_input

TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
         0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
CODES = {np.dtype(v).newbyteorder("=").str if v.itemsize > 1 else v.str: k for k, v in TYPES.items()}
MAX_DIMS = 8


def _read_all(path: str | os.PathLike) -> bytes:
    name = display_name(path)
    f = open_input(path)
    try:
        return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise FormatError(f"{name}: truncated or corrupt gzip data ({e}); download the file again") from None
    finally:
        f.close()


def parse_header(data: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check an IDX header; returns (dtype, shape, header bytes). FormatError names the problem."""
    if len(data) < 4:
        raise FormatError(f"{name}: {len(data)} bytes is too short for an IDX file (truncated?)")
    if data[:2] == b"PK":
        raise FormatError(f"{name}: looks like a zip/NPZ file, not IDX; give it a .npz name")
    if data[0] != 0 or data[1] != 0 or data[2] not in TYPES or not 1 <= data[3] <= MAX_DIMS:
        raise FormatError(f"{name}: bad IDX magic number 0x{data[:4].hex()} (expected 0x000008NN "
                          "for uint8 data); is this an MNIST-style IDX file?")
    dtype, ndim = TYPES[data[2]], data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise FormatError(f"{name}: truncated IDX header ({len(data)} of {head} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    return dtype, shape, head


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or not) into a native-endian array of its stored shape."""
    name = display_name(path)
    data = _read_all(path)
    dtype, shape, head = parse_header(data, name)
    need = math.prod(shape) * dtype.itemsize  # Python ints: a corrupt header must not overflow
    have = len(data) - head
    if have < need:
        raise FormatError(f"{name}: truncated IDX data: the header {shape} needs {need} bytes, "
                          f"found {have}; download the file again")
    if have > need:
        raise FormatError(f"{name}: {have - need} unexpected bytes after the IDX data "
                          f"(header says {shape}); is the header right?")
    arr = np.frombuffer(data, dtype, math.prod(shape), head).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write `array` as IDX (atomically); gzip when `compress` or when the name ends in .gz."""
    a = np.asarray(array)
    code = CODES.get(a.dtype.newbyteorder("=").str if a.dtype.itemsize > 1 else a.dtype.str)
    if code is None or a.ndim < 1 or a.ndim > MAX_DIMS:
        raise FormatError(f"IDX cannot hold {a.ndim}-D {a.dtype} arrays")
    body = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    body += np.ascontiguousarray(a, TYPES[code]).tobytes()
    if compress or (compress is None and str(path).endswith(".gz")):
        body = gzip.compress(body, mtime=0)
    with atomic_output(path, "wb") as f:
        f.write(body)


def labels_path_for(images_path: str | os.PathLike) -> str:
    """The labels file beside an images file: `*-images-idx3-ubyte*` -> `*-labels-idx1-ubyte*`."""
    p = str(images_path)
    head, _, tail = p.rpartition("/")
    swapped = tail.replace("images-idx3", "labels-idx1").replace("images", "labels")
    if swapped == tail:
        raise FormatError(f"{p}: cannot find the labels file for these IDX images (expected a name "
                          "with 'images-idx3', as train-images-idx3-ubyte.gz)")
    return f"{head}/{swapped}" if head or p.startswith("/") else swapped


def read_idx_dataset(images_path: str | os.PathLike,
                     labels_path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) uint8 and labels (N,) int64 from an IDX pair."""
    labels_path = labels_path or labels_path_for(images_path)
    if not os.path.exists(labels_path):
        raise FormatError(f"{images_path}: its labels file {labels_path} does not exist")
    x, y = read_idx(images_path), read_idx(labels_path)
    if x.dtype != np.uint8 or x.ndim not in (3, 4):
        raise FormatError(f"{images_path}: IDX images must be uint8 (N, H, W) or (N, H, W, C), "
                          f"got {x.dtype} {x.shape}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise FormatError(f"{labels_path}: IDX labels must be 1-D integers, got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise FormatError(f"{images_path} has {len(x)} images but {labels_path} has {len(y)} labels")
    x = x[:, None] if x.ndim == 3 else np.moveaxis(x, 3, 1)
    return np.ascontiguousarray(x), y.astype(np.int64)

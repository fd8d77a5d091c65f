"""Netpbm images (PGM P2/P5 grey, PPM P3/P6 colour): reader, writer and validator.

    img = read_pnm("digit.pgm")        # (H, W, C) uint8, C = 1 or 3
    write_pnm("out.pgm", img)
"""

from __future__ import annotations

import os
import re

import numpy as np

from speechlang.errors import FormatError
from speechlang.io import atomic_output, display_name, open_input

MAGICS = {b"P2": (1, False), b"P5": (1, True), b"P3": (3, False), b"P6": (3, True)}
# whitespace and `#` comments, then a number; a comment runs to the end of its line (or of the data),
# so each input has one match and a run of '#' cannot make the regex backtrack exponentially
_TOKEN = re.compile(rb"(?:\s|#[^\n]*(?:\n|\Z))*(\d{1,9})(?!\d)")


def is_pnm(head: bytes) -> bool:
    return head[:2] in MAGICS


def decode_pnm(data: bytes, name: str = "<pnm>") -> np.ndarray:
    """PGM/PPM bytes -> (H, W, C) uint8 (samples above 8 bits are scaled to 0..255)."""
    if data[:2] not in MAGICS:
        raise FormatError(f"{name}: not a PGM/PPM file (expected P2, P3, P5 or P6 magic)")
    channels, binary = MAGICS[data[:2]]
    pos, vals = 2, []
    for _ in range(3):
        m = _TOKEN.match(data, pos)
        if m is None:
            raise FormatError(f"{name}: bad or truncated PGM/PPM header")
        vals.append(int(m.group(1)))
        pos = m.end()
    width, height, maxval = vals
    if width < 1 or height < 1 or not 1 <= maxval <= 65535:
        raise FormatError(f"{name}: bad PGM/PPM header (size {width}x{height}, maxval {maxval})")
    count = width * height * channels
    if binary:
        if pos >= len(data) or not data[pos:pos + 1].isspace():
            raise FormatError(f"{name}: truncated PGM/PPM (no pixel data)")
        pos += 1
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
        if len(data) - pos < count * dtype.itemsize:
            raise FormatError(f"{name}: truncated PGM/PPM pixel data ({len(data) - pos} of "
                              f"{count * dtype.itemsize} bytes)")
        px = np.frombuffer(data, dtype, count, pos).astype(np.int64)
    else:
        try:
            px = np.array(data[pos:].split(), np.int64)
        except (ValueError, OverflowError):
            px = np.array([-1])
        if px.min(initial=0) < 0:
            raise FormatError(f"{name}: a pixel value of the plain PGM/PPM is not a whole number >= 0")
        if px.size < count:
            raise FormatError(f"{name}: truncated PGM/PPM pixel data ({px.size} of {count} values)")
        px = px[:count]
    if px.max(initial=0) > maxval:
        raise FormatError(f"{name}: pixel value {px.max()} above maxval {maxval}")
    if maxval != 255:
        px = (px * 255 + maxval // 2) // maxval
    return px.astype(np.uint8).reshape(height, width, channels)


def read_pnm(path: str | os.PathLike) -> np.ndarray:
    """Read a PGM or PPM file -> (H, W, C) uint8."""
    with open_input(path, allow_gzip=False) as f:
        return decode_pnm(f.read(), display_name(path))


def write_pnm(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write (H, W[, 1]) uint8 as binary PGM (P5) or (H, W, 3) as PPM (P6), atomically."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (1, 3):
        raise FormatError(f"PGM/PPM writer takes (H, W[, 1 or 3]) uint8 arrays, got {a.dtype} {a.shape}")
    magic = b"P5" if a.shape[2] == 1 else b"P6"
    with atomic_output(path, "wb") as f:
        f.write(magic + f"\n{a.shape[1]} {a.shape[0]}\n255\n".encode() + a.tobytes())

"""numba kernels of the vision group, each behind a validating public wrapper.

    rows = unfilter_scanlines(raw, height=28, stride=28, bpp=1)   # PNG filters undone
"""

from __future__ import annotations

import numba
import numpy as np

from speechlang.errors import FormatError


@numba.njit(cache=True)
def _unfilter(raw, height, stride, bpp):  # pragma: no cover - runs compiled
    """Undo the PNG scanline filters (PNG spec section 9). raw: (height * (1 + stride),) uint8.
    Returns (rows (height, stride) uint8, index of the first row with a bad filter type or -1)."""
    out = np.zeros((height, stride), np.uint8)
    for r in range(height):
        base = r * (stride + 1)
        ft = raw[base]
        if ft > 4:
            return out, r
        for i in range(stride):
            x = np.int32(raw[base + 1 + i])
            a = np.int32(out[r, i - bpp]) if i >= bpp else 0
            b = np.int32(out[r - 1, i]) if r > 0 else 0
            c = np.int32(out[r - 1, i - bpp]) if r > 0 and i >= bpp else 0
            if ft == 1:
                x += a
            elif ft == 2:
                x += b
            elif ft == 3:
                x += (a + b) // 2
            elif ft == 4:  # Paeth predictor
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    x += a
                elif pb <= pc:
                    x += b
                else:
                    x += c
            out[r, i] = x & 0xFF
    return out, -1


def unfilter_scanlines(raw: np.ndarray | bytes, *, height: int, stride: int, bpp: int,
                       name: str = "PNG") -> np.ndarray:
    """The decompressed IDAT bytes of a non-interlaced PNG -> unfiltered rows (height, stride) uint8.

    stride: bytes per row without the filter byte; bpp: bytes per complete pixel (at least 1).
    """
    buf = np.frombuffer(raw, np.uint8) if isinstance(raw, (bytes, bytearray)) else raw
    buf = np.ascontiguousarray(buf, np.uint8)
    if height < 1 or stride < 1 or bpp < 1:
        raise FormatError(f"{name}: bad image geometry (height {height}, row bytes {stride})")
    need = height * (stride + 1)
    if buf.size < need:
        raise FormatError(f"{name}: truncated PNG image data ({buf.size} of {need} bytes)")
    rows, bad = _unfilter(buf[:need], int(height), int(stride), int(bpp))
    if bad >= 0:
        raise FormatError(f"{name}: PNG row {bad} has an unknown filter type {buf[bad * (stride + 1)]}")
    return rows

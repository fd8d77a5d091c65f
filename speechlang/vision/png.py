"""PNG images: reader, writer and validator, on zlib alone (no imaging library needed).

Reads non-interlaced PNGs of every colour type (grey, RGB, palette, grey+alpha, RGBA) at
bit depths 1-16, checking chunk CRCs; 16-bit samples are reduced to 8 bits and alpha is
dropped. Writes 8-bit grey or RGB with filter type 0.

    img = read_png("shoe.png")          # (H, W, C) uint8, C = 1 or 3
    write_png("out.png", img)
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from speechlang.errors import FormatError
from speechlang.io import atomic_output, display_name, open_input
from speechlang.vision._kernels import unfilter_scanlines

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def is_png(head: bytes) -> bool:
    return head[:8] == SIGNATURE


def _chunks(data: bytes, name: str):
    pos = 8
    while pos < len(data):
        if pos + 8 > len(data):
            raise FormatError(f"{name}: truncated PNG (chunk header at byte {pos})")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length + 4
        if end > len(data):
            raise FormatError(f"{name}: truncated PNG ({ctype.decode('latin-1')} chunk at byte {pos})")
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(ctype + body) != crc:
            raise FormatError(f"{name}: corrupt PNG (bad CRC in {ctype.decode('latin-1')} chunk)")
        yield ctype, body
        if ctype == b"IEND":
            return
        pos = end
    raise FormatError(f"{name}: truncated PNG (no IEND chunk)")


def decode_png(data: bytes, name: str = "<png>") -> np.ndarray:
    """PNG bytes -> (H, W, C) uint8 with C = 1 (grey) or 3 (colour); alpha dropped."""
    if not is_png(data):
        raise FormatError(f"{name}: not a PNG file (bad signature)")
    ihdr, idat, palette = None, [], None
    for ctype, body in _chunks(data, name):
        if ctype == b"IHDR":
            if len(body) != 13:
                raise FormatError(f"{name}: bad PNG IHDR chunk")
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"PLTE":
            if len(body) % 3:
                raise FormatError(f"{name}: bad PNG PLTE chunk ({len(body)} bytes, not RGB triples)")
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif ctype == b"IDAT":
            idat.append(body)
    if ihdr is None or not idat:
        raise FormatError(f"{name}: PNG without {'IHDR' if ihdr is None else 'IDAT'} chunk")
    width, height, depth, ctype, _, _, interlace = ihdr
    if ctype not in CHANNELS or depth not in DEPTHS[ctype] or width == 0 or height == 0:
        raise FormatError(f"{name}: unsupported PNG (colour type {ctype}, bit depth {depth})")
    if interlace:
        raise FormatError(f"{name}: interlaced (Adam7) PNG is not supported; save it without interlacing")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise FormatError(f"{name}: corrupt PNG image data ({e})") from None
    spp = CHANNELS[ctype]
    bits = spp * depth
    stride = (width * bits + 7) // 8
    rows = unfilter_scanlines(raw, height=height, stride=stride, bpp=max(1, bits // 8), name=name)
    if depth == 16:
        px = rows.view(">u2").reshape(height, width, spp) >> 8
    elif depth == 8:
        px = rows.reshape(height, width, spp)
    else:  # 1, 2 or 4 bits per sample: unpack the bits, most significant first
        bitsarr = np.unpackbits(rows, axis=1)[:, : width * depth].reshape(height, width, depth)
        px = (bitsarr * (1 << np.arange(depth - 1, -1, -1, dtype=np.uint8))).sum(2, dtype=np.uint16)
        px = px[..., None]
        if ctype == 0:
            px = px * (255 // ((1 << depth) - 1))
    px = px.astype(np.uint8)
    if ctype == 3:
        if palette is None:
            raise FormatError(f"{name}: palette PNG without a PLTE chunk")
        idx = px[..., 0]
        if idx.max() >= len(palette):
            raise FormatError(f"{name}: PNG palette index {idx.max()} beyond its {len(palette)} colours")
        px = palette[idx]
    elif ctype in (4, 6):
        px = px[..., :-1]  # drop alpha
    return np.ascontiguousarray(px)


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG file -> (H, W, C) uint8, C = 1 or 3."""
    name = display_name(path)
    with open_input(path, allow_gzip=False) as f:
        return decode_png(f.read(), name)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def encode_png(image: np.ndarray) -> bytes:
    """(H, W), (H, W, 1) or (H, W, 3) uint8 -> PNG bytes (8-bit grey or RGB)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (1, 3) or 0 in a.shape:
        raise FormatError(f"PNG writer takes (H, W[, 1 or 3]) uint8 arrays, got {a.dtype} {a.shape}")
    h, w, c = a.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, w * c)], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + _chunk(b"IEND", b""))


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an 8-bit grey or RGB PNG atomically."""
    data = encode_png(image)
    with atomic_output(path, "wb") as f:
        f.write(data)

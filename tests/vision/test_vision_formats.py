"""IDX, PNG, PGM/PPM and NPZ: round trips, every PNG filter and colour type, and corruption."""

from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np
import pytest

from speechlang.errors import FormatError
from speechlang.vision.data import read_image
from speechlang.vision.idx import read_idx, read_idx_dataset, write_idx
from speechlang.vision.npz import read_npz, write_npz
from speechlang.vision.png import SIGNATURE, decode_png, encode_png, read_png, write_png
from speechlang.vision.pnm import decode_pnm, read_pnm, write_pnm


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip(tmp_path, dtype, name):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    write_idx(tmp_path / name, a)
    b = read_idx(tmp_path / name)
    assert b.dtype == np.dtype(dtype).newbyteorder("=") and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    raw = (gzip.decompress if name.endswith(".gz") else bytes)((tmp_path / name).read_bytes())
    # the header is big-endian: magic 0x0000TT03 then the dimensions
    assert raw[:4] == bytes([0, 0, {"u1": 8, "i1": 9, "i2": 11, "i4": 12, "f4": 13, "f8": 14}[dtype], 3])
    assert struct.unpack(">3I", raw[4:16]) == (2, 3, 5)


def test_idx_hand_made_bytes(tmp_path):
    (tmp_path / "x").write_bytes(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 255]))
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), [[1, 2], [3, 255]])


@pytest.mark.parametrize("data, msg", [
    (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "truncated IDX data"),
    (bytes([0, 0, 8, 3, 0, 0]), "truncated IDX header"),
    (bytes([0, 0, 8]), "too short"),
    (bytes([1, 2, 8, 1, 0, 0, 0, 1, 7]), "bad IDX magic"),
    (bytes([0, 0, 7, 1, 0, 0, 0, 1, 7]), "bad IDX magic"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 1, 7, 8]), "unexpected bytes"),
])
def test_idx_corrupt(tmp_path, data, msg):
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(FormatError, match=msg):
        read_idx(tmp_path / "bad")


def test_idx_truncated_gzip(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(5000, dtype=np.uint8).reshape(50, 100) % 7)
    data = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "a.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="truncated or corrupt gzip"):
        read_idx(tmp_path / "a.gz")


def test_idx_pair_mismatch(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 4, 4), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(FormatError, match="3 images but"):
        read_idx_dataset(tmp_path / "train-images-idx3-ubyte")


# --- PNG: a reference encoder applying each filter type, written out directly from the spec ---

def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_rows(rows: np.ndarray, bpp: int, types: list[int]) -> bytes:
    out = bytearray()
    h, stride = rows.shape
    for r in range(h):
        ft = types[r % len(types)]
        out.append(ft)
        for i in range(stride):
            x = int(rows[r, i])
            a = int(rows[r, i - bpp]) if i >= bpp else 0
            b = int(rows[r - 1, i]) if r else 0
            c = int(rows[r - 1, i - bpp]) if r and i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][ft]
            out.append((x - pred) % 256)
    return bytes(out)


def _png(w, h, depth, ctype, payload, extra=b""):
    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(payload)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("channels, ctype", [(1, 0), (3, 2), (2, 4), (4, 6)])
def test_png_all_filters(channels, ctype):
    rng = np.random.default_rng(channels)
    img = rng.integers(0, 256, (7, 5, channels), dtype=np.uint8)
    rows = img.reshape(7, 5 * channels)
    data = _png(5, 7, 8, ctype, _filter_rows(rows, channels, [0, 1, 2, 3, 4]))
    got = decode_png(data)
    want = img if channels in (1, 3) else img[..., :-1]  # alpha dropped
    np.testing.assert_array_equal(got, want)


def test_png_16bit_palette_and_1bit():
    v = np.array([[0, 1000, 65535]], ">u2")
    got = decode_png(_png(3, 1, 16, 0, b"\x00" + v.tobytes()))
    np.testing.assert_array_equal(got[..., 0], [[0, 1000 >> 8, 255]])
    pal = bytes([10, 20, 30, 200, 100, 0])
    plte = struct.pack(">I", 6) + b"PLTE" + pal + struct.pack(">I", zlib.crc32(b"PLTE" + pal))
    got = decode_png(_png(2, 1, 8, 3, bytes([0, 1, 0]), plte))
    np.testing.assert_array_equal(got, [[[200, 100, 0], [10, 20, 30]]])
    got = decode_png(_png(10, 1, 1, 0, bytes([0, 0b10110000, 0b01000000])))
    np.testing.assert_array_equal(got[0, :, 0], [255, 0, 255, 255, 0, 0, 0, 0, 0, 255])


def test_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    for shape in [(9, 4), (9, 4, 3)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        write_png(tmp_path / "a.png", img)
        got = read_png(tmp_path / "a.png")
        np.testing.assert_array_equal(got.reshape(img.shape), img)


def test_png_corrupt():
    good = encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(FormatError, match="truncated PNG"):
        decode_png(good[:30])
    bad = bytearray(good)
    bad[20] ^= 0xFF  # inside IHDR: the CRC no longer matches
    with pytest.raises(FormatError, match="bad CRC"):
        decode_png(bytes(bad))
    with pytest.raises(FormatError, match="unknown filter type"):
        decode_png(_png(2, 2, 8, 0, bytes([0, 1, 2, 9, 3, 4])))
    with pytest.raises(FormatError, match="not a PNG"):
        decode_png(b"GIF89a....")


def test_pnm_plain_binary_and_16bit(tmp_path):
    got = decode_pnm(b"P2\n# comment\n3 2\n15\n0 15 5\n10 1 2\n")
    np.testing.assert_array_equal(got[..., 0], np.rint(np.array([[0, 15, 5], [10, 1, 2]]) * 255 / 15))
    img = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    write_pnm(tmp_path / "a.ppm", img)
    np.testing.assert_array_equal(read_pnm(tmp_path / "a.ppm"), img)
    got = decode_pnm(b"P5 2 1 65535\n" + np.array([0, 65535], ">u2").tobytes())
    np.testing.assert_array_equal(got[..., 0], [[0, 255]])
    with pytest.raises(FormatError, match="truncated"):
        decode_pnm(b"P5 4 4 255\n" + bytes(10))
    (tmp_path / "x.pgm").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    with pytest.raises(FormatError, match="JPEG"):
        read_image(tmp_path / "x.pgm")


def test_npz_round_trip_and_errors(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    y = np.array([0, 1, 2, 1, 0])
    write_npz(tmp_path / "a.npz", x, y, ["a", "b", "c"])
    gx, gy, classes = read_npz(tmp_path / "a.npz")
    np.testing.assert_array_equal(gx, np.moveaxis(x, 3, 1))
    np.testing.assert_array_equal(gy, y)
    assert classes == ["a", "b", "c"]
    np.savez(tmp_path / "f.npz", x=np.full((2, 3, 3), 0.5), y=np.array([0, 1]))
    assert read_npz(tmp_path / "f.npz")[0].max() == 128
    np.savez(tmp_path / "k.npz", images=x, y=y)
    with pytest.raises(FormatError, match="needs arrays 'x' and 'y'"):
        read_npz(tmp_path / "k.npz")
    (tmp_path / "t.npz").write_bytes((tmp_path / "a.npz").read_bytes()[:100])
    with pytest.raises(FormatError, match="not a readable NPZ"):
        read_npz(tmp_path / "t.npz")

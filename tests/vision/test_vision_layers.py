"""Locally connected and tiled convolutions against a direct loop over output positions, against
F.conv2d where they reduce to it, and the lenet-local / lenet-tiled models built on them."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from speechlang.errors import ConfigError, DataError
from speechlang.vision.layers import (
    LocallyConnected2d,
    TiledConv2d,
    conv_output_size,
    locally_connected2d,
    tiled_conv2d,
)
from speechlang.vision.registry import build_model

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# (input H, W), kernel, stride, padding, tiles: odd sizes, sizes that are not a multiple of the tiles
CASES = [
    ((6, 6), 3, 1, 0, 2),
    ((7, 5), 3, 2, 1, 2),
    ((8, 7), (2, 3), (2, 1), (1, 0), (3, 2)),
    ((5, 6), 1, 1, 0, 4),
    ((9, 9), 5, 2, 2, 1),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def loop_conv(x, filter_at, bias_at, kernel, stride, padding):
    """Reference: y[:, :, i, j] = sum over the patch at (i, j) times filter_at(i, j) + bias_at(i, j)."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    xp = F.pad(x, (pw, pw, ph, ph))
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    rows = []
    for i in range(ho):
        cols = []
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]          # (N, C, kh, kw)
            y = torch.einsum("nckl,ockl->no", patch, filter_at(i, j))
            cols.append(y if bias_at is None else y + bias_at(i, j))
        rows.append(torch.stack(cols, -1))
    return torch.stack(rows, -2)                                              # (N, O, H', W')


def _inputs(size, kernel, tiles, c=3, o=4, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *size, generator=g, dtype=torch.float64)
    w = torch.randn(*_pair(tiles), o, c, *_pair(kernel), generator=g, dtype=torch.float64)
    b = torch.randn(*_pair(tiles), o, generator=g, dtype=torch.float64)
    return x, w, b


def _grads(fn, *tensors):
    """Outputs of fn and gradients of a random projection of them w.r.t. every input."""
    ts = [t.detach().clone().requires_grad_(True) for t in tensors]
    y = fn(*ts)
    proj = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    (y * proj).sum().backward()
    return y.detach(), [t.grad for t in ts]


@pytest.mark.parametrize("size, kernel, stride, padding, tiles", CASES)
def test_tiled_matches_loop(size, kernel, stride, padding, tiles):
    x, w, b = _inputs(size, kernel, tiles)
    th, tw = _pair(tiles)
    y, grads = _grads(lambda x, w, b: tiled_conv2d(x, w, b, stride, padding), x, w, b)
    want, want_grads = _grads(lambda x, w, b: loop_conv(x, lambda i, j: w[i % th, j % tw],
                                                        lambda i, j: b[i % th, j % tw], kernel, stride, padding),
                              x, w, b)
    assert y.shape[-2:] == conv_output_size(size, kernel, stride, padding)
    torch.testing.assert_close(y, want)
    for g, wg in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, wg)


@pytest.mark.parametrize("size, kernel, stride, padding, tiles", CASES)
def test_locally_connected_matches_loop(size, kernel, stride, padding, tiles):
    out = conv_output_size(size, kernel, stride, padding)
    x, w, b = _inputs(size, kernel, out)
    y, grads = _grads(lambda x, w, b: locally_connected2d(x, w, b, stride, padding), x, w, b)
    want, want_grads = _grads(lambda x, w, b: loop_conv(x, lambda i, j: w[i, j], lambda i, j: b[i, j],
                                                        kernel, stride, padding), x, w, b)
    torch.testing.assert_close(y, want)
    for g, wg in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, wg)
    # tiles covering the whole output map: the tiled convolution is the locally connected layer
    torch.testing.assert_close(tiled_conv2d(x, w, b, stride, padding), y)


def test_gradcheck():
    x, w, b = _inputs((5, 4), 3, 2, c=2, o=2, n=1)
    args = [t.requires_grad_(True) for t in (x, w, b)]
    assert torch.autograd.gradcheck(lambda x, w, b: tiled_conv2d(x, w, b, 2, 1), args)
    x, w, b = _inputs((5, 4), 2, conv_output_size((5, 4), 2, 1, 0), c=2, o=2, n=1)
    args = [t.requires_grad_(True) for t in (x, w, b)]
    assert torch.autograd.gradcheck(lambda x, w, b: locally_connected2d(x, w, b, 1, 0), args)


@pytest.mark.parametrize("size, kernel, stride, padding, tiles", CASES)
def test_one_tile_is_a_convolution(size, kernel, stride, padding, tiles):
    x, w, b = _inputs(size, kernel, 1)
    torch.testing.assert_close(tiled_conv2d(x, w, b, stride, padding),
                               F.conv2d(x, w[0, 0], b[0, 0], stride, padding))


@pytest.mark.parametrize("size, kernel, stride, padding, tiles", CASES)
def test_equal_local_filters_are_a_convolution(size, kernel, stride, padding, tiles):
    x, w, b = _inputs(size, kernel, 1)
    ho, wo = conv_output_size(size, kernel, stride, padding)
    wl, bl = w.expand(ho, wo, *w.shape[2:]).contiguous(), b.expand(ho, wo, -1).contiguous()
    torch.testing.assert_close(locally_connected2d(x, wl, bl, stride, padding),
                               F.conv2d(x, w[0, 0], b[0, 0], stride, padding))


def test_modules():
    lc = LocallyConnected2d(3, 4, 3, input_size=(7, 5), stride=2, padding=1)
    assert lc.weight.shape == (4, 3, 4, 3, 3, 3) and lc.bias.shape == (4, 3, 4)
    x = torch.randn(2, 3, 7, 5)
    assert lc(x).shape == (2, 4, 4, 3)
    # channels-last inputs (the training default) give the same result
    torch.testing.assert_close(lc(x.contiguous(memory_format=torch.channels_last)), lc(x))
    with pytest.raises(DataError, match="filters for 4x3 outputs"):
        lc(torch.randn(2, 3, 9, 9))
    with pytest.raises(ConfigError, match="shrink to nothing"):
        LocallyConnected2d(3, 4, 5, input_size=(3, 3))
    with pytest.raises(ConfigError, match="3x3 inputs shrink to nothing"):
        tiled_conv2d(torch.randn(1, 3, 3, 3), torch.randn(2, 2, 4, 3, 5, 5))
    tc = TiledConv2d(3, 4, 3, tiles=2, padding=1, bias=False)
    assert tc.weight.shape == (2, 2, 4, 3, 3, 3) and tc.bias is None
    assert tc(torch.randn(1, 3, 9, 6)).shape == (1, 4, 9, 6)  # any input size
    with pytest.raises(ConfigError, match=">= 1"):
        TiledConv2d(3, 4, 3, tiles=0)
    # initialized as nn.Conv2d: uniform in +-1/sqrt(fan_in)
    assert tc.weight.abs().max() <= 1 / 27 ** 0.5


def _conv_weights(model):
    return [p for n, p in model.named_parameters() if n.startswith("features") and p.dim() >= 4]


def test_lenet_variants_parameters_and_shapes():
    opts = ["channels=4,8", "hidden=16"]
    lenet = build_model("lenet", in_channels=1, num_classes=10, image_size=(12, 12), overrides=opts)
    local = build_model("lenet-local", in_channels=1, num_classes=10, image_size=(12, 12), overrides=opts)
    tiled = build_model("lenet-tiled", in_channels=1, num_classes=10, image_size=(12, 12),
                        overrides=[*opts, "tiles=3"])
    n = {name: sum(p.numel() for p in m.parameters()) for name, m in
         [("lenet", lenet), ("local", local), ("tiled", tiled)]}
    conv = sum(p.numel() for p in _conv_weights(lenet))                       # 4*1*25 + 8*4*25
    # same padding: stage 1 sees 12x12, stage 2 (after 2x2 max pooling) 6x6
    assert n["local"] - n["lenet"] == 12 * 12 * 4 * 25 + 6 * 6 * 8 * 4 * 25 - conv
    assert n["tiled"] - n["lenet"] == (9 - 1) * conv
    assert [tuple(p.shape) for p in _conv_weights(local)] == [(12, 12, 4, 1, 5, 5), (6, 6, 8, 4, 5, 5)]
    assert [tuple(p.shape) for p in _conv_weights(tiled)] == [(3, 3, 4, 1, 5, 5), (3, 3, 8, 4, 5, 5)]
    for m in (local, tiled):
        assert m.eval()(torch.randn(3, 1, 12, 12)).shape == (3, 10)
    with pytest.raises(ConfigError, match="tiles must be >= 1"):
        build_model("lenet-tiled", in_channels=1, num_classes=10, image_size=(12, 12), overrides=["tiles=0"])
    with pytest.raises(ConfigError, match="shrink to nothing"):
        build_model("lenet-local", in_channels=1, num_classes=10, image_size=(6, 6),
                    overrides=["channels=2,2,2", "padding=0"])


def test_lenet_tiled_with_one_tile_is_lenet():
    opts = ["channels=4,8", "hidden=16", "stride=2", "kernel_size=3"]
    lenet = build_model("lenet", in_channels=1, num_classes=5, image_size=(16, 16), overrides=opts).eval()
    tiled = build_model("lenet-tiled", in_channels=1, num_classes=5, image_size=(16, 16),
                        overrides=[*opts, "tiles=1"]).eval()
    state = {k: v[None, None] if v.dim() == 4 else v for k, v in lenet.state_dict().items()}
    tiled.load_state_dict(state)
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(tiled(x), lenet(x))


def test_cli_trains_tiled(cli, tiny_idx, tmp_path):
    train, test = tiny_idx
    r = cli("--quiet", "vision", "train", "--train", train, "-o", tmp_path / "t", "--arch", "lenet-tiled",
            "--model-opt", "channels=4,8", "--model-opt", "hidden=16", "--model-opt", "tiles=3",
            "--epochs", "1", "--batch-size", "64", "--valid", "40", "--device", "cpu", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    want = build_model("lenet-tiled", in_channels=1, num_classes=4, image_size=(12, 12),
                       overrides=["channels=4,8", "hidden=16", "tiles=3"])
    assert rec["arch"] == "lenet-tiled" and rec["params"] == sum(p.numel() for p in want.parameters())
    r = cli("vision", "eval", "-m", tmp_path / "t", "-d", test, "--device", "cpu", "--json")
    assert r.exit_code == 0, r.stderr
    assert 0 <= json.loads(r.stdout)["accuracy"] <= 100
    models = cli("vision", "models").stdout
    assert "lenet-local" in models and "  tiles=2" in models


@requires_cuda
def test_layers_on_cuda_match_cpu():
    x, w, b = (t.float() for t in _inputs((9, 7), 3, 2))
    want = tiled_conv2d(x, w, b, 2, 1)
    torch.testing.assert_close(tiled_conv2d(x.cuda(), w.cuda(), b.cuda(), 2, 1).cpu(), want, rtol=1e-4, atol=1e-4)
    m = build_model("lenet-local", in_channels=1, num_classes=10, image_size=(28, 28)).eval()
    xi = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        want = m(xi)
        got = m.cuda()(xi.cuda())
    torch.testing.assert_close(got.cpu(), want, rtol=1e-3, atol=1e-3)

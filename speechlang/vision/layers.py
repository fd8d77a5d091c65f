"""Convolutions with unshared weights.

* Locally connected (Taigman et al. 2014, DeepFace; Ngiam et al. 2010 with k = infinity): one
  filter per output position, no weight sharing at all.
* Tiled (Ngiam et al. 2010, "Tiled convolutional neural networks"): tile size k, so k x k
  filters alternate over the output grid and positions k apart along each axis share one;
  k = 1 is an ordinary convolution, k >= the output size is locally connected.

Both unfold the input into patches (im2col, as a strided view copied once) and contract them
with the filters in one batched matmul over the tiles (torch.bmm): no Python loop over positions.

    y = tiled_conv2d(x, weight, bias, stride=1, padding=2)   # weight (k, k, O, C, kh, kw)
    layer = LocallyConnected2d(1, 32, 5, input_size=(28, 28), padding=2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from speechlang.errors import ConfigError, DataError

IntPair = int | tuple[int, int]


def _pair(v: IntPair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def conv_output_size(size: IntPair, kernel_size: IntPair, stride: IntPair = 1,
                     padding: IntPair = 0) -> tuple[int, int]:
    """(H', W') of a convolution over (H, W): floor((H + 2 padding - kernel) / stride) + 1 per axis
    (<= 0 when the kernel does not fit)."""
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in  # type: ignore[return-value]
                 zip(_pair(size), _pair(kernel_size), _pair(stride), _pair(padding), strict=True))


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the gradient contiguous. The gradient reaching the batched
    matmul usually comes back in NCHW order (strides (1, T*O, T) in its (T, N, O) shape), which
    torch.bmm's backward can only use by copying every tile's slice: 20x slower than one copy."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


def tiled_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 stride: IntPair = 1, padding: IntPair = 0) -> torch.Tensor:
    """Tiled convolution: output (i, j) uses filter weight[i % th, j % tw].

    x (N, C, H, W); weight (th, tw, O, C, kh, kw); bias (th, tw, O) or None
    -> (N, O, H', W') in channels-last memory, (H', W') = conv_output_size((H, W), (kh, kw), stride, padding).
    Zero padding. Devices: CPU, CUDA; dtypes as torch.bmm (autocast applies).
    """
    th, tw, o, c, kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, _, h, w = x.shape
    ho, wo = conv_output_size((h, w), (kh, kw), stride, padding)
    if ho < 1 or wo < 1:
        raise ConfigError(f"{h}x{w} inputs shrink to nothing under a {kh}x{kw} kernel with stride {stride}, "
                          f"padding {padding}")
    # Round the output grid up to whole tiles (hb x wb of them) by padding the input at the bottom and
    # right; the extra outputs are cropped at the end.
    hb, wb = math.ceil(ho / th), math.ceil(wo / tw)
    hp, wp = (hb * th - 1) * sh + kh, (wb * tw - 1) * sw + kw  # padded input size for hb*th x wb*tw outputs
    xp = F.pad(x, (pw, max(pw, wp - w - pw), ph, max(ph, hp - h - ph))).permute(0, 2, 3, 1)  # (N, Hp, Wp, C)
    patches = xp.unfold(1, kh, sh).unfold(2, kw, sw)[:, :hb * th, :wb * tw]  # (N, hb*th, wb*tw, C, kh, kw), a view
    # one copy into the layout of the batched matmul: (tile, position within the tile's share, C*kh*kw)
    cols = (patches.reshape(n, hb, th, wb, tw, c, kh, kw).permute(2, 4, 0, 1, 3, 5, 6, 7)
            .reshape(th * tw, n * hb * wb, c * kh * kw))
    y = torch.bmm(cols, weight.reshape(th * tw, o, c * kh * kw).transpose(1, 2))  # (th*tw, N*hb*wb, O)
    y = _ContiguousGrad.apply(y)
    if bias is not None:
        y = y + bias.reshape(th * tw, 1, o)
    y = y.reshape(th, tw, n, hb, wb, o).permute(2, 3, 0, 4, 1, 5).reshape(n, hb * th, wb * tw, o)
    return y[:, :ho, :wo].permute(0, 3, 1, 2)


def locally_connected2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                        stride: IntPair = 1, padding: IntPair = 0) -> torch.Tensor:
    """Locally connected layer: output (i, j) uses its own filter weight[i, j].

    x (N, C, H, W); weight (H', W', O, C, kh, kw); bias (H', W', O) or None -> (N, O, H', W');
    (H', W') must be conv_output_size((H, W), (kh, kw), stride, padding).
    """
    out = conv_output_size(x.shape[-2:], weight.shape[-2:], stride, padding)
    if tuple(weight.shape[:2]) != out:
        raise DataError(f"locally connected layer has filters for {weight.shape[0]}x{weight.shape[1]} "
                        f"outputs but {x.shape[-2]}x{x.shape[-1]} inputs give {out[0]}x{out[1]}; "
                        "images must have the size the model was built for")
    return tiled_conv2d(x, weight, bias, stride, padding)


class _UnsharedConv2d(nn.Module):
    """Holds weight (th, tw, O, C, kh, kw) and bias (th, tw, O), initialized as nn.Conv2d
    (uniform in +-1/sqrt(C kh kw))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, tiles: tuple[int, int],
                 stride: IntPair, padding: IntPair, bias: bool):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        if min(in_channels, out_channels, *self.kernel_size, *self.stride, *tiles) < 1 or min(self.padding) < 0:
            raise ConfigError("channels, kernel size, stride and tiles must be >= 1 and padding >= 0")
        self.weight = nn.Parameter(torch.empty(*tiles, out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(*tiles, out_channels)) if bias else None
        bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"tiles={tuple(self.weight.shape[:2])}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}")


class TiledConv2d(_UnsharedConv2d):
    """Tiled convolution with `tiles` x `tiles` alternating filters (see `tiled_conv2d`):
    (N, C, H, W) -> (N, O, H', W'), any input size. tiles=1 is nn.Conv2d."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, tiles: IntPair = 2,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, _pair(tiles), stride, padding, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tiled_conv2d(x, self.weight, self.bias, self.stride, self.padding)


class LocallyConnected2d(_UnsharedConv2d):
    """Locally connected layer (see `locally_connected2d`) for inputs of `input_size` (H, W):
    (N, C, H, W) -> (N, O, H', W'), with H' x W' filters of C x kh x kw."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, input_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True):
        h, w = _pair(input_size)
        out = conv_output_size((h, w), kernel_size, stride, padding)
        if min(out) < 1:
            raise ConfigError(f"{h}x{w} inputs of a locally connected layer (kernel {kernel_size}, "
                              f"stride {stride}, padding {padding}) shrink to nothing")
        super().__init__(in_channels, out_channels, kernel_size, out, stride, padding, bias)
        self.input_size = (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return locally_connected2d(x, self.weight, self.bias, self.stride, self.padding)

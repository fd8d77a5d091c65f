"""LeNet with its convolutions replaced by layers with unshared weights (`layers.py`):
`lenet-local` (locally connected: one filter per output position, Taigman et al. 2014) and
`lenet-tiled` (tiled convolution, Ngiam et al. 2010: `tiles` x `tiles` alternating filters).
Everything else (pooling, BatchNorm, the fully connected head, the options) is `lenet`'s.

    model = build_model("lenet-tiled", in_channels=1, num_classes=10, image_size=(28, 28),
                        overrides=["tiles=2"])
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from speechlang.errors import ConfigError
from speechlang.vision.layers import LocallyConnected2d, TiledConv2d
from speechlang.vision.lenet import LeNet, LeNetConfig
from speechlang.vision.registry import register


@dataclass(frozen=True)
class LeNetTiledConfig(LeNetConfig):
    tiles: int = 2  # tile size k: k x k filters per channel pair; 1 = lenet, >= the map size = lenet-local

    def check(self) -> None:
        super().check()
        if self.tiles < 1:
            raise ConfigError("lenet-tiled: tiles must be >= 1")


@register("lenet-local")
class LeNetLocal(LeNet):
    """LeNet with locally connected layers; weights grow with the image area (11.5M on 28x28)."""

    Config = LeNetConfig

    def conv_layer(self, in_channels: int, out_channels: int, padding: int, input_size: tuple[int, int]) -> nn.Module:
        cfg = self.cfg
        return LocallyConnected2d(in_channels, out_channels, cfg.kernel_size, input_size, cfg.stride, padding,
                                  bias=not cfg.batch_norm)


@register("lenet-tiled")
class LeNetTiled(LeNet):
    """LeNet with tiled convolutions: tiles^2 times the conv weights of lenet."""

    Config = LeNetTiledConfig

    def conv_layer(self, in_channels: int, out_channels: int, padding: int, input_size: tuple[int, int]) -> nn.Module:
        cfg = self.cfg
        return TiledConv2d(in_channels, out_channels, cfg.kernel_size, cfg.tiles, cfg.stride, padding,
                           bias=not cfg.batch_norm)

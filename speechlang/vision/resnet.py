"""A small residual network (He et al. 2016): a conv stem, stages of basic blocks (two 3x3
convs with a shortcut), global pooling and a linear classifier.

    model = build_model("resnet", in_channels=1, num_classes=10, image_size=(28, 28))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from speechlang.accel.moe import HardMoE, MoEConfig
from speechlang.errors import ConfigError
from speechlang.vision.registry import VisionModel, probe_shape, register


@dataclass(frozen=True)
class ResNetConfig:
    widths: tuple[int, ...] = (32, 64, 128)  # channels of each stage
    blocks: tuple[int, ...] = (1,)           # basic blocks per stage (one number: every stage)
    stem_stride: int = 1                     # stride of the first conv (2 halves all later cost)
    kernel_size: int = 3                     # conv kernel side in pixels
    padding: int = -1                        # conv zero padding (-1: kernel_size // 2, "same")
    downsample: str = "maxpool"              # between stages: stride (conv stride 2), maxpool or avgpool
    head_pool: str = "max"                   # global pooling before the classifier: avg or max
    dropout: float = 0.0                     # before the classifier
    moe_experts: int = 0                     # > 0: the classifier becomes a hard mixture of this many
                                             # experts Linear(w, w), ReLU, Linear(w, K), w = widths[-1]

    def check(self) -> None:
        if not self.widths or len(self.blocks) not in (1, len(self.widths)):
            raise ConfigError("resnet: blocks needs one entry per stage (or one for all)")
        if min(self.widths) < 1 or min(self.blocks) < 1 or self.stem_stride < 1 or self.kernel_size < 1:
            raise ConfigError("resnet: widths, blocks, stem_stride and kernel_size must be >= 1")
        if self.downsample not in ("stride", "maxpool", "avgpool"):
            raise ConfigError(f"resnet: downsample must be stride, maxpool or avgpool, got {self.downsample!r}")
        if self.head_pool not in ("avg", "max"):
            raise ConfigError(f"resnet: head_pool must be avg or max, got {self.head_pool!r}")
        if self.moe_experts < 0:
            raise ConfigError("resnet: moe_experts must be >= 0")


class BasicBlock(nn.Module):
    """y = relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)); shortcut is 1x1 conv when shapes change."""

    def __init__(self, cin: int, cout: int, stride: int, k: int, pad: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, k, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        nn.init.zeros_(self.bn2.weight)  # each block starts as the identity (Goyal et al. 2017)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


@register("resnet")
class ResNet(VisionModel):
    Config = ResNetConfig

    def __init__(self, cfg: ResNetConfig, in_channels: int, num_classes: int, image_size):
        super().__init__(cfg, in_channels, num_classes, image_size)
        k = cfg.kernel_size
        pad = k // 2 if cfg.padding < 0 else cfg.padding
        self.stem = nn.Sequential(nn.Conv2d(in_channels, cfg.widths[0], k, cfg.stem_stride, pad, bias=False),
                                  nn.BatchNorm2d(cfg.widths[0]), nn.ReLU(inplace=True))
        stages: list[nn.Module] = []
        c = cfg.widths[0]
        blocks = cfg.blocks * len(cfg.widths) if len(cfg.blocks) == 1 else cfg.blocks
        for i, (w, n) in enumerate(zip(cfg.widths, blocks, strict=True)):
            layers: list[nn.Module] = []
            stride = 1
            if i > 0:
                if cfg.downsample == "stride":
                    stride = 2
                else:
                    layers.append(nn.MaxPool2d(2) if cfg.downsample == "maxpool" else nn.AvgPool2d(2))
            for j in range(n):
                layers.append(BasicBlock(c, w, stride if j == 0 else 1, k, pad))
                c = w
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1) if cfg.head_pool == "avg" else nn.AdaptiveMaxPool2d(1)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = (HardMoE(MoEConfig(c, c, cfg.moe_experts, out_dim=num_classes, activation="relu"))
                   if cfg.moe_experts else nn.Linear(c, num_classes))
        probe_shape(nn.Sequential(self.stem, self.stages), in_channels, image_size, "resnet")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, num_classes) logits."""
        x = self.stages(self.stem(x))                 # (N, widths[-1], H', W')
        return self.fc(self.dropout(self.pool(x).flatten(1)))

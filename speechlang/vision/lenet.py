"""A LeNet-style CNN (LeCun et al. 1998): conv-pool stages, then fully connected layers.

    model = build_model("lenet", in_channels=1, num_classes=10, image_size=(28, 28))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from speechlang.accel.moe import HardMoE, MoEConfig
from speechlang.errors import ConfigError
from speechlang.vision.registry import VisionModel, probe_shape, register


@dataclass(frozen=True)
class LeNetConfig:
    channels: tuple[int, ...] = (32, 64)  # output channels of each conv stage
    kernel_size: int = 5                  # conv kernel side in pixels
    stride: int = 1                       # conv stride
    padding: int = -1                     # conv zero padding (-1: kernel_size // 2, "same")
    pool: str = "max"                     # max, avg or none (downsampling after each stage)
    pool_size: int = 2                    # pooling window and stride
    hidden: tuple[int, ...] = (256,)      # widths of the fully connected layers
    batch_norm: bool = True               # BatchNorm after each conv (faster, steadier training)
    dropout: float = 0.3                  # before each fully connected layer
    moe_experts: int = 0                  # > 0: the last hidden layer and the classifier become
                                          # a hard mixture of this many such pairs (accel.moe)

    def check(self) -> None:
        if not self.channels or min(self.channels) < 1 or self.kernel_size < 1 or self.stride < 1:
            raise ConfigError("lenet: channels, kernel_size and stride must be >= 1")
        if self.pool not in ("max", "avg", "none"):
            raise ConfigError(f"lenet: pool must be max, avg or none, got {self.pool!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError("lenet: dropout must be in [0, 1)")
        if self.moe_experts < 0 or (self.moe_experts and not self.hidden):
            raise ConfigError("lenet: moe_experts must be >= 0 and needs a hidden layer")


@register("lenet")
class LeNet(VisionModel):
    Config = LeNetConfig

    def __init__(self, cfg: LeNetConfig, in_channels: int, num_classes: int, image_size):
        super().__init__(cfg, in_channels, num_classes, image_size)
        pad = cfg.kernel_size // 2 if cfg.padding < 0 else cfg.padding
        layers: list[nn.Module] = []
        c, size = in_channels, tuple(image_size)
        for out in cfg.channels:
            layers.append(self.conv_layer(c, out, pad, size))
            if cfg.batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            if cfg.pool != "none":
                pool = nn.MaxPool2d if cfg.pool == "max" else nn.AvgPool2d
                layers.append(pool(cfg.pool_size))
            c, size = out, probe_shape(nn.Sequential(*layers), in_channels, image_size, self.name)[-2:]
        self.features = nn.Sequential(*layers)
        n_flat = math.prod(probe_shape(self.features, in_channels, image_size, self.name))
        head: list[nn.Module] = [nn.Flatten()]
        d = n_flat
        dense = cfg.hidden[:-1] if cfg.moe_experts else cfg.hidden
        for h in dense:
            head += [nn.Dropout(cfg.dropout), nn.Linear(d, h), nn.ReLU(inplace=True)]
            d = h
        if cfg.moe_experts:  # each expert: Linear(d, hidden[-1]), ReLU, Dropout, Linear(hidden[-1], K)
            head += [nn.Dropout(cfg.dropout), HardMoE(MoEConfig(
                d, cfg.hidden[-1], cfg.moe_experts, cfg.dropout, out_dim=num_classes, activation="relu"))]
        else:
            head += [nn.Dropout(cfg.dropout), nn.Linear(d, num_classes)]
        self.classifier = nn.Sequential(*head)

    def conv_layer(self, in_channels: int, out_channels: int, padding: int, input_size: tuple[int, int]) -> nn.Module:
        """The convolution of one stage, for (N, in_channels, *input_size) inputs; the variants
        with unshared weights (`lenet_unshared.py`) override it."""
        cfg = self.cfg
        return nn.Conv2d(in_channels, out_channels, cfg.kernel_size, cfg.stride, padding, bias=not cfg.batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, num_classes) logits."""
        return self.classifier(self.features(x))

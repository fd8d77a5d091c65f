"""Shapes through every registered model and option, the registry's checks, and overfitting."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from speechlang.accel import TrainConfig, fit, index_batches
from speechlang.errors import ConfigError
from speechlang.vision.registry import (
    MODELS,
    VisionModel,
    build_from_spec,
    build_model,
    model_names,
    register,
)

OPTIONS = {
    "lenet": [[], ["pool=avg", "padding=0"], ["pool=none", "stride=2", "kernel_size=3"],
              ["channels=4,8,8", "hidden=16,8", "batch_norm=false"]],
    "lenet-local": [["channels=4,8"], ["pool=avg", "padding=0", "channels=4,8"],
                    ["pool=none", "stride=2", "kernel_size=3", "channels=4,8"],
                    ["channels=4,8,8", "hidden=16,8", "batch_norm=false"]],
    "lenet-tiled": [[], ["pool=avg", "padding=0", "tiles=3"], ["pool=none", "stride=2", "kernel_size=3", "tiles=1"],
                    ["channels=4,8,8", "hidden=16,8", "batch_norm=false", "tiles=4"]],
    "resnet": [[], ["downsample=stride", "head_pool=avg"], ["stem_stride=2", "blocks=2,1", "widths=8,16"],
               ["downsample=avgpool", "kernel_size=5", "padding=2", "dropout=0.2"]],
}


def test_every_registered_model_is_covered():
    assert set(model_names()) == set(OPTIONS)


@pytest.mark.parametrize("arch", sorted(OPTIONS))
@pytest.mark.parametrize("size, channels", [((28, 28), 1), ((32, 24), 3), ((12, 12), 1)])
def test_shapes(arch, size, channels):
    for opts in OPTIONS[arch]:
        if size == (12, 12) and "padding=0" in opts:  # 12 -> 8 -> 4 -> conv 5x5: nothing left
            with pytest.raises(ConfigError, match="shrink to nothing"):
                build_model(arch, in_channels=channels, num_classes=7, image_size=size, overrides=opts)
            continue
        m = build_model(arch, in_channels=channels, num_classes=7, image_size=size, overrides=opts)
        m.eval()
        out = m(torch.randn(5, channels, *size))
        assert out.shape == (5, 7), (arch, opts)
        again = build_from_spec(m.spec())
        again.load_state_dict(m.state_dict())
        again.eval()
        assert torch.allclose(again(torch.ones(2, channels, *size)), m(torch.ones(2, channels, *size)))


def test_resnet_shortcut_is_identity_at_init():
    m = build_model("resnet", in_channels=1, num_classes=3, image_size=(8, 8), overrides=["widths=4", "blocks=1"])
    block = m.stages[0][0]
    x = torch.rand(2, 4, 8, 8)
    assert torch.allclose(block(x), torch.relu(x))  # zero-initialized last BN: output = relu(x)


def test_registry_rejects_mistakes():
    with pytest.raises(ValueError, match="duplicate"):
        register("lenet")(type("Other", (VisionModel,), {"Config": MODELS["lenet"].Config}))
    with pytest.raises(TypeError, match="must extend VisionModel"):
        register("mlp")(torch.nn.Linear)
    with pytest.raises(ConfigError, match="unknown option"):
        build_model("lenet", in_channels=1, num_classes=2, image_size=(8, 8), overrides=["width=3"])
    with pytest.raises(ConfigError, match="not a valid int"):
        build_model("lenet", in_channels=1, num_classes=2, image_size=(8, 8), overrides=["stride=x"])
    with pytest.raises(ConfigError, match="is not one of"):
        build_model("vgg", in_channels=1, num_classes=2, image_size=(8, 8))
    with pytest.raises(ConfigError, match="shrink to nothing"):
        build_model("lenet", in_channels=1, num_classes=2, image_size=(4, 4), overrides=["channels=2,2,2"])


def test_new_architecture_is_one_class():
    @dataclass(frozen=True)
    class TinyConfig:
        hidden: int = 4

    @register("tiny-test")
    class Tiny(VisionModel):
        Config = TinyConfig

        def __init__(self, cfg, in_channels, num_classes, image_size):
            super().__init__(cfg, in_channels, num_classes, image_size)
            self.fc = torch.nn.Linear(in_channels * image_size[0] * image_size[1], num_classes)

        def forward(self, x):
            return self.fc(x.flatten(1))

    try:
        m = build_model("tiny-test", in_channels=1, num_classes=3, image_size=(2, 2), overrides=["hidden=9"])
        assert m.cfg.hidden == 9 and m(torch.zeros(1, 1, 2, 2)).shape == (1, 3)
    finally:
        MODELS.pop("tiny-test")


@pytest.mark.parametrize("arch, opts", [("lenet", ["channels=8,16", "hidden=32", "dropout=0"]),
                                        ("resnet", ["widths=8,16"])])
def test_overfits_a_small_batch(arch, opts):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 12, 12, generator=g)
    y = torch.randint(0, 10, (32,), generator=g)  # random labels: only memorizing fits them
    model = build_model(arch, in_channels=1, num_classes=10, image_size=(12, 12), overrides=opts)

    def batches(epoch, env):
        for idx in index_batches(32, 32, epoch=epoch, seed=1, env=env):
            yield x[idx], y[idx]

    def loss_fn(net, b):
        return F.cross_entropy(net(b[0]), b[1]), len(b[1])

    fit(model, loss_fn, batches, TrainConfig(epochs=150, lr=0.01, optimizer="adam", device="cpu"),
        steps_per_epoch=1)
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc == 1.0

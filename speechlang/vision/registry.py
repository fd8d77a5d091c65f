"""The model registry: architecture name -> class. A new architecture is one class in one file,
decorated with `@register("name")` and imported in `speechlang/vision/models.py`.

    model = build_model("resnet", in_channels=1, num_classes=10, image_size=(28, 28),
                        overrides=["widths=16,32,64"])
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import asdict

import torch
from torch import nn

from speechlang.errors import ConfigError
from speechlang.registry import Registry


class VisionModel(nn.Module):
    """Base of registered architectures: `Config` is its frozen dataclass; forward maps
    (N, C, H, W) float images to (N, num_classes) logits."""

    Config: type = type(None)
    name: str = ""

    def __init__(self, cfg, in_channels: int, num_classes: int, image_size: tuple[int, int]):
        super().__init__()
        self.cfg, self.in_channels, self.num_classes = cfg, in_channels, num_classes
        self.image_size = tuple(image_size)

    def spec(self) -> dict:
        """What `build_model` needs to rebuild this model (stored in checkpoints)."""
        return {"arch": self.name, "config": asdict(self.cfg), "in_channels": self.in_channels,
                "num_classes": self.num_classes, "image_size": list(self.image_size)}


def probe_shape(module: nn.Module, in_channels: int, image_size: tuple[int, int], arch: str):
    """The output shape of `module` for one (1, C, H, W) image; ConfigError when the image is
    too small for its convolutions and pooling."""
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            shape = tuple(module(torch.zeros(1, in_channels, *image_size)).shape)
    except RuntimeError:
        shape = (0,)
    module.train(was)
    if 0 in shape:
        raise ConfigError(f"{arch}: {image_size[0]}x{image_size[1]} images shrink to nothing; "
                          "use fewer stages, less pooling or a smaller kernel")
    return shape


MODELS = Registry("model", VisionModel, config_attr="Config", name_attr="name")


def register(name: str):
    """Class decorator adding an architecture; rejects duplicates and non-VisionModel classes."""
    return MODELS.register(name)


def _parse_value(text: str, tp, key: str):
    origin = typing.get_origin(tp)
    try:
        if origin is tuple:
            inner = typing.get_args(tp)[0]
            return tuple(_parse_value(t, inner, key) for t in text.split(",") if t.strip())
        if tp is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return tp(text)
    except ValueError:
        raise ConfigError(f"--model-opt {key}={text}: not a valid {getattr(tp, '__name__', tp)}") from None


def make_config(cls: type, overrides: list[str] | dict | None = None):
    """`cls` (a model's Config dataclass) with `key=value` overrides; an unknown key is an error."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict = {}
    if isinstance(overrides, dict):
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    else:
        for item in overrides or []:
            key, eq, text = item.partition("=")
            key = key.strip().replace("-", "_")
            if not eq:
                raise ConfigError(f"--model-opt {item!r}: expected KEY=VALUE")
            if key not in names:
                raise ConfigError(f"--model-opt {key}: unknown option of {cls.__name__}; "
                                  f"known: {', '.join(names)}")
            values[key] = _parse_value(text.strip(), hints[key], key)
    unknown = set(values) - set(names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} options {sorted(unknown)}; known: {', '.join(names)}")
    cfg = cls(**values)
    if hasattr(cfg, "check"):
        cfg.check()
    return cfg


def build_model(arch: str, *, in_channels: int, num_classes: int, image_size: tuple[int, int],
                overrides: list[str] | dict | None = None) -> VisionModel:
    """Instantiate a registered architecture."""
    from speechlang.vision import models  # noqa: F401 - registers the architectures

    cls = MODELS.lookup(arch)
    return cls(make_config(cls.Config, overrides), in_channels, num_classes, tuple(image_size))


def build_from_spec(spec: dict) -> VisionModel:
    """Rebuild a model from `VisionModel.spec()` (as stored in a checkpoint)."""
    return build_model(spec["arch"], in_channels=spec["in_channels"], num_classes=spec["num_classes"],
                       image_size=tuple(spec["image_size"]), overrides=spec["config"])


def model_names() -> list[str]:
    from speechlang.vision import models  # noqa: F401

    return sorted(MODELS)

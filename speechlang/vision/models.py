"""The registered architectures, imported explicitly (add a line here for a new one)."""

from speechlang.vision import lenet, lenet_unshared, resnet  # noqa: F401

ARCHS = ("lenet", "lenet-local", "lenet-tiled", "resnet")

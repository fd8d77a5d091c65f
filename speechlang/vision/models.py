"""The registered architectures, imported explicitly (add a line here for a new one)."""

from speechlang.vision import lenet, resnet  # noqa: F401

ARCHS = ("lenet", "resnet")

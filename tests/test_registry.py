"""The shared registry of named classes."""

from dataclasses import dataclass

import pytest

from speechlang.errors import ConfigError
from speechlang.registry import Registry


class Base:
    pass


@dataclass
class Cfg:
    x: int = 1


def test_register_lookup_and_mistakes():
    reg = Registry("thing", Base, config_attr="Config", name_attr="name")

    @reg.register("a")
    class A(Base):
        Config = Cfg

    assert reg.lookup("a") is A and A.name == "a"
    with pytest.raises(ValueError, match="duplicate thing 'a'"):
        reg.register("a")(A)
    with pytest.raises(TypeError, match="must extend Base"):
        reg.register("b")(dict)
    with pytest.raises(TypeError, match="must be a dataclass"):
        reg.register("c")(type("C", (Base,), {"Config": int}))
    with pytest.raises(ConfigError, match="--arch 'z' is not one of a"):
        reg.lookup("z")
    assert list(reg) == ["a"]

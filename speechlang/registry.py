"""Registries of named classes (model architectures): a dict plus an `@register` decorator.

    ARCHS = Registry("architecture", Seq2Seq, config_attr="config_class", name_attr="arch")
    @ARCHS.register("transformer")
    class Transformer(Seq2Seq): ...

Registrants are imported explicitly by their package (no directory scan).
"""

from __future__ import annotations

import dataclasses

from speechlang.errors import ConfigError


class Registry(dict):
    """name -> class. `register` rejects duplicate names, classes that do not extend `base`
    and classes whose `config_attr` is not a dataclass; it stores the name on `name_attr`."""

    def __init__(self, kind: str, base: type, *, config_attr: str, name_attr: str):
        super().__init__()
        self.kind, self.base, self.config_attr, self.name_attr = kind, base, config_attr, name_attr

    def register(self, name: str):
        def deco(cls):
            if name in self:
                raise ValueError(f"duplicate {self.kind} {name!r}: already registered ({self[name].__name__})")
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(f"{self.kind} {name!r} ({cls!r}) must extend {self.base.__name__}")
            if not dataclasses.is_dataclass(getattr(cls, self.config_attr, None)):
                raise TypeError(f"{self.kind} {name!r}: {cls.__name__}.{self.config_attr} must be a dataclass")
            setattr(cls, self.name_attr, name)
            self[name] = cls
            return cls
        return deco

    def lookup(self, name: str, option: str = "--arch") -> type:
        """The class registered as `name`; ConfigError listing the known names otherwise."""
        if name not in self:
            raise ConfigError(f"{option} {name!r} is not one of {', '.join(sorted(self))}")
        return self[name]

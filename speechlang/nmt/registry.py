"""Architectures by name (a `speechlang.registry.Registry`).

    @register("transformer") class Transformer(Seq2Seq): ...;  model = build_model("transformer", cfg)

Every architecture is a `Seq2Seq`: teacher-forced `forward` for training, and the three
calls the search needs (`encode`, `init_state`, `step`). Encoder outputs and decoder states
are dicts of batch-first tensors, so beams are reordered by `index_select` on dim 0.
"""

from __future__ import annotations

import dataclasses
import importlib

import torch
from torch import nn

from speechlang.errors import ConfigError
from speechlang.nmt import ARCH_MODULES
from speechlang.registry import Registry


class Seq2Seq(nn.Module):
    """Base class. src (B, S) and tgt_in (B, T) are int64 ids padded with PAD at the end;
    src ends with EOS, tgt_in starts with BOS."""

    config_class: type = object
    arch: str = ""

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (B, T, V_tgt) of the next token at each target position, whose log-softmax is
        the model's log-probability; with tgt_out (B, T), the output layer's training loss per
        position (B, T), 0 at PAD (`output.py`: full, sampled or hierarchical softmax)."""
        raise NotImplementedError

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def init_state(self, enc: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def step(self, enc: dict, state: dict, y_prev: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """One decoder step: y_prev (B,) -> (log-probs (B, V_tgt), new state)."""
        raise NotImplementedError


ARCHS = Registry("architecture", Seq2Seq, config_attr="config_class", name_attr="arch")


def register(name: str):
    """Class decorator adding a Seq2Seq subclass to ARCHS under `name`; duplicates are errors."""
    return ARCHS.register(name)


def arch_names() -> list[str]:
    _load()
    return sorted(ARCHS)


def model_config(arch: str, options: dict):
    """The architecture's config from `options`; None values mean the default. A given option
    that the architecture does not have is a ConfigError naming it."""
    _load()
    cls = ARCHS.lookup(arch).config_class
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k, v in options.items() if v is not None and k not in names]
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise ConfigError(f"{flags} does not apply to --arch {arch}")
    return cls(**{k: v for k, v in options.items() if v is not None})


def build_model(arch: str, config: dict | object) -> Seq2Seq:
    """A fresh model of `arch` from its config (dataclass or dict, e.g. from a checkpoint)."""
    _load()
    cls = ARCHS.lookup(arch)
    if isinstance(config, dict):
        names = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ConfigError(f"unknown {arch} config key(s): {', '.join(unknown)}")
        config = cls.config_class(**config)
    return cls(config)


def _load() -> None:
    # Registrants are imported explicitly, from the table in speechlang.nmt (no directory scan).
    for module in ARCH_MODULES.values():
        importlib.import_module(module)

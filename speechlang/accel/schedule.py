"""Learning-rate schedules: linear warm-up, then constant, linear, cosine, inverse-sqrt or plateau.

The LR at optimizer step s (1-based) is base_lr * warmup(s) * shape(s) * plateau_scale:
  warmup(s)       = min(1, s / W)                          (W = warmup_steps; 1 when W = 0)
  constant        shape = 1
  linear          shape = 1 - (1 - m) * p                  p = (s - W) / (T - W) in [0, 1]
  cosine          shape = m + (1 - m) * (1 + cos(pi p)) / 2
  inverse-sqrt    shape = sqrt(max(W, 1) / max(s, W, 1))   (fairseq's)
  plateau         shape = 1, and plateau_scale *= factor after `patience` evaluations
                  without improvement of the monitored metric
where m = min_lr_ratio and T = total steps.
"""

from __future__ import annotations

import math

from speechlang.errors import ConfigError

SCHEDULES = ("constant", "linear", "cosine", "inverse-sqrt", "plateau")


class LRSchedule:
    """Sets the optimizer's LR each step; its state is a small dict for checkpoints."""

    def __init__(self, optimizer, base_lr: float, name: str = "constant", *, warmup_steps: int = 0,
                 total_steps: int = 0, min_lr_ratio: float = 0.0, factor: float = 0.5,
                 patience: int = 1, mode: str = "min"):
        if name not in SCHEDULES:
            raise ConfigError(f"--schedule {name!r} is not one of {', '.join(SCHEDULES)}")
        if name in ("linear", "cosine") and total_steps <= 0:
            raise ConfigError(f"--schedule {name} needs the total number of steps")
        self.opt, self.base_lr, self.name = optimizer, base_lr, name
        self.warmup, self.total, self.min_ratio = warmup_steps, total_steps, min_lr_ratio
        self.factor, self.patience, self.mode = factor, patience, mode
        self.scale, self.bad, self.best = 1.0, 0, None
        self.set_step(0)

    def factor_at(self, s: int) -> float:
        w = self.warmup
        warm = min(1.0, s / w) if w > 0 else 1.0
        if self.name == "inverse-sqrt":
            shape = math.sqrt(max(w, 1) / max(s, w, 1))
        elif self.name in ("linear", "cosine"):
            p = min(1.0, max(0.0, (s - w) / max(self.total - w, 1)))
            m = self.min_ratio
            shape = 1 - (1 - m) * p if self.name == "linear" else m + (1 - m) * (1 + math.cos(math.pi * p)) / 2
        else:
            shape = 1.0
        return warm * shape * self.scale

    def set_step(self, s: int) -> float:
        """Set the LR for optimizer step s+1 (so warm-up starts above zero); returns it."""
        lr = self.base_lr * self.factor_at(s + 1)
        for g in self.opt.param_groups:
            g["lr"] = lr
        return lr

    def observe(self, value: float) -> None:
        """Report an evaluation metric (plateau schedule only)."""
        if self.name != "plateau":
            return
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if better:
            self.best, self.bad = value, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.scale *= self.factor
                self.bad = 0

    def state_dict(self) -> dict:
        return {"scale": self.scale, "bad": self.bad, "best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.bad, self.best = state["scale"], state["bad"], state["best"]

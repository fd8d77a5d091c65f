"""`accel check`: train a small MLP on a synthetic two-spiral task through the shared loop,
to verify a device/precision/launcher set-up end to end (checkpoints and resume included)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechlang.accel.loop import TrainConfig, fit, index_batches
from speechlang.accel.seed import derive_seed, set_seed


def two_spirals(n: int, seed: int, noise: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """n points of two interleaved spirals: x (n, 2) float32, y (n,) int64 in {0, 1}."""
    rng = np.random.default_rng(derive_seed(seed, 2))
    t = np.sqrt(rng.random(n)) * 3 * math.pi
    y = rng.integers(0, 2, n)
    sign = np.where(y == 0, 1.0, -1.0)
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], 1) / (3 * math.pi)
    x += noise * rng.standard_normal(x.shape)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def mlp(hidden: int = 64) -> nn.Module:
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, 2))


def run_check(cfg: TrainConfig, out_dir: str | Path | None = None, *, resume: bool = False,
              n: int = 2000, batch_size: int = 64) -> dict:
    """Train the MLP; returns first and last epoch loss and held-out accuracy."""
    set_seed(cfg.seed)
    x, y = two_spirals(n, cfg.seed)
    xv, yv = two_spirals(n // 4, cfg.seed + 1)
    model = mlp()
    lossf = nn.CrossEntropyLoss()

    def batches(epoch, env):
        for idx in index_batches(n, batch_size, epoch=epoch, seed=cfg.seed, env=env):
            yield x[idx], y[idx]

    def loss_fn(net, batch):
        xb, yb = batch
        return lossf(net(xb).float(), yb), len(yb)

    def evaluate(net):
        dev = next(net.parameters()).device
        logits = net(xv.to(dev)).float()
        return {"val_loss": float(lossf(logits, yv.to(dev))),
                "val_acc": float((logits.argmax(1).cpu() == yv).float().mean() * 100)}

    steps = math.ceil(n / batch_size)
    res = fit(model, loss_fn, batches, cfg, evaluate=evaluate, out_dir=out_dir, resume=resume,
              steps_per_epoch=steps, model_config={"hidden": 64}, desc="check")
    h = res.history
    return {"epochs": res.epochs, "steps": res.steps, "first_loss": h[0]["train_loss"],
            "last_loss": h[-1]["train_loss"], "val_acc": h[-1]["val_acc"],
            "items_per_s": h[-1]["items_per_s"], "skipped_steps": res.skipped_steps}

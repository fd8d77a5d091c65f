"""A hard mixture-of-experts layer: a gater picks one expert per input (Shazeer et al. 2017,
top-1 routing as in the Switch Transformer, Fedus et al. 2021).

Only the chosen expert runs for each input, so compute per example stays that of one expert
while the parameters grow with the number of experts. The output is scaled by the gate's
probability of the chosen expert, which lets the gater learn; `aux_loss` is the Switch load
balancing term num_experts * sum_i f_i * P_i (1.0 when perfectly balanced), to be added to
the training loss with a small weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class MoEConfig:
    dim: int
    hidden: int
    num_experts: int = 4
    dropout: float = 0.0


class HardMoE(nn.Module):
    """(..., dim) -> (..., dim); after forward, `self.aux_loss` holds the balancing loss and
    `self.last_counts` the number of inputs each expert received."""

    def __init__(self, cfg: MoEConfig):
        super().__init__()
        self.cfg = cfg
        self.gate = nn.Linear(cfg.dim, cfg.num_experts, bias=False)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(cfg.dim, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout),
                          nn.Linear(cfg.hidden, cfg.dim))
            for _ in range(cfg.num_experts))
        self.aux_loss = torch.zeros(())
        self.last_counts = torch.zeros(cfg.num_experts, dtype=torch.long)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])                       # (N, dim)
        probs = F.softmax(self.gate(x).float(), -1)        # (N, E)
        p_top, choice = probs.max(-1)                      # (N,), (N,)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            idx = (choice == e).nonzero(as_tuple=True)[0]
            if idx.numel():
                out.index_copy_(0, idx, (expert(x[idx]) * p_top[idx, None]).to(x.dtype))
        counts = torch.bincount(choice, minlength=self.cfg.num_experts)
        frac = counts.float() / max(1, x.shape[0])
        self.aux_loss = self.cfg.num_experts * (frac * probs.mean(0)).sum()
        self.last_counts = counts.detach()
        return out.reshape(shape)

    def flops_per_example(self) -> int:
        """Multiply-adds per input: the gate plus one expert (what hard routing buys)."""
        d, h, e = self.cfg.dim, self.cfg.hidden, self.cfg.num_experts
        return d * e + 2 * d * h

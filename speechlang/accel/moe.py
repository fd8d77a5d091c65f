"""A hard mixture-of-experts layer: a gater picks one expert per input (Shazeer et al. 2017,
top-1 routing as in the Switch Transformer, Fedus et al. 2021).

Only the chosen expert runs for each input, so compute per example stays that of one expert
while the parameters grow with the number of experts. The output is scaled by the gate's
probability of the chosen expert, which lets the gater learn; `aux_loss` is the Switch load
balancing term num_experts * sum_i f_i * P_i (1.0 when perfectly balanced), which trainers
add to their loss through `moe_loss(model)`.

    ff = HardMoE(MoEConfig(dim=256, hidden=1024, num_experts=4))   # a feed-forward block
    loss = task_loss + moe_loss(model)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechlang.errors import ConfigError

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


@dataclass(frozen=True)
class MoEConfig:
    dim: int                   # input features
    hidden: int                # inner width of each expert (dim -> hidden -> out_dim)
    num_experts: int = 4
    dropout: float = 0.0       # inside each expert, after the activation
    out_dim: int = 0           # output features (0: dim, a drop-in feed-forward block)
    activation: str = "gelu"   # gelu or relu
    aux_weight: float = 0.01   # weight of the load-balancing loss (Switch Transformer: 0.01)

    def check(self) -> None:
        if self.num_experts < 1 or self.dim < 1 or self.hidden < 1 or self.out_dim < 0:
            raise ConfigError("moe: num_experts, dim and hidden must be >= 1")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"moe: activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")


class HardMoE(nn.Module):
    """(..., dim) -> (..., out_dim); after forward, `self.aux_loss` holds the balancing loss and
    `self.last_counts` the number of inputs each expert received."""

    def __init__(self, cfg: MoEConfig):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.out_dim = cfg.out_dim or cfg.dim
        self.gate = nn.Linear(cfg.dim, cfg.num_experts, bias=False)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(cfg.dim, cfg.hidden), ACTIVATIONS[cfg.activation](), nn.Dropout(cfg.dropout),
                          nn.Linear(cfg.hidden, self.out_dim))
            for _ in range(cfg.num_experts))
        self.aux_loss = torch.zeros(())
        self.last_counts = torch.zeros(cfg.num_experts, dtype=torch.long)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])                       # (N, dim)
        probs = F.softmax(self.gate(x).float(), -1)        # (N, E)
        p_top, choice = probs.max(-1)                      # (N,), (N,)
        out = x.new_zeros(x.shape[0], self.out_dim)        # (N, out_dim)
        for e, expert in enumerate(self.experts):
            # every expert runs, on no rows when none chose it: its parameters stay in the
            # graph (zero gradients), as DistributedDataParallel expects
            idx = (choice == e).nonzero(as_tuple=True)[0]
            out.index_copy_(0, idx, (expert(x[idx]) * p_top[idx, None]).to(out.dtype))
        counts = torch.bincount(choice, minlength=self.cfg.num_experts)
        frac = counts.float() / max(1, x.shape[0])
        self.aux_loss = self.cfg.num_experts * (frac * probs.mean(0)).sum()
        self.last_counts = counts.detach()
        return out.reshape(*shape[:-1], self.out_dim)

    def flops_per_example(self) -> int:
        """Multiply-adds per input: the gate plus one expert (what hard routing buys)."""
        d, h, e = self.cfg.dim, self.cfg.hidden, self.cfg.num_experts
        return d * e + d * h + h * self.out_dim


def moe_loss(model: nn.Module) -> torch.Tensor | float:
    """Sum of aux_weight x aux_loss over the HardMoE layers of `model` (after its forward);
    0.0 when it has none. Add it to the training loss."""
    terms = [m.cfg.aux_weight * m.aux_loss for m in model.modules() if isinstance(m, HardMoE)]
    return sum(terms[1:], terms[0]) if terms else 0.0


def linear_macs(model: nn.Module) -> int:
    """Multiply-adds per example of the Linear layers of `model`, a HardMoE counted as its gate
    plus one expert (convolutions are not counted)."""
    total, inside = 0, set()
    for m in model.modules():
        if isinstance(m, HardMoE):
            total += m.flops_per_example()
            inside.update(id(x) for x in m.modules())
        elif isinstance(m, nn.Linear) and id(m) not in inside:
            total += m.in_features * m.out_features
    return total

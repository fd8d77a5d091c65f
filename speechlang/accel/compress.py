"""Model compression shared by asr, nmt and vision: magnitude pruning, int8 dynamic
quantization for CPU inference, knowledge distillation, and the size/latency figures that
each reports before and after.
"""

from __future__ import annotations

import copy
import io
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from speechlang.errors import ConfigError

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def prunable_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(module name, weight) of every Linear/Conv layer: the tensors pruning acts on."""
    return [(name, m.weight) for name, m in model.named_modules() if isinstance(m, PRUNABLE)]


def magnitude_prune(model: nn.Module, sparsity: float, scope: str = "global") -> dict[str, torch.Tensor]:
    """Zero the smallest-magnitude weights of Linear/Conv layers, in place.

    scope "global" ranks all prunable weights together (layers lose different shares);
    "layer" removes `sparsity` of each layer. Returns the 0/1 masks by module name, which
    `apply_masks` re-applies after each fine-tuning step to keep pruned weights at zero.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"--sparsity must be in [0, 1), got {sparsity}")
    if scope not in ("global", "layer"):
        raise ConfigError(f"--prune-scope must be global or layer, not {scope!r}")
    weights = prunable_weights(model)
    if not weights:
        raise ConfigError("the model has no Linear or Conv layers to prune")
    masks: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if scope == "global":
            flat = torch.cat([w.detach().abs().flatten().float() for _, w in weights])
            k = int(sparsity * flat.numel())
            threshold = flat.kthvalue(k).values if k > 0 else flat.new_tensor(-1.0)
            for name, w in weights:
                masks[name] = (w.abs().float() > threshold).to(w.dtype)
        else:
            for name, w in weights:
                k = int(sparsity * w.numel())
                t = w.abs().flatten().float().kthvalue(k).values if k > 0 else w.new_tensor(-1.0)
                masks[name] = (w.abs().float() > t).to(w.dtype)
    apply_masks(model, masks)
    return masks


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Multiply each masked layer's weight by its mask (keeps pruned weights at zero)."""
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, mask in masks.items():
            w = modules[name].weight
            w.mul_(mask.to(w.device))


def sparsity_of(model: nn.Module) -> float:
    """Share of exactly-zero weights over all prunable layers."""
    weights = [w for _, w in prunable_weights(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / max(1, sum(w.numel() for w in weights))


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` with Linear (and LSTM) layers dynamically quantized to int8 for CPU.

    Weights are stored as int8 with per-tensor scales; activations are quantized on the fly.
    Convolutions stay in float (dynamic quantization covers Linear/LSTM/GRU only).
    """
    m = copy.deepcopy(model).to("cpu").eval()
    types = {nn.Linear, nn.LSTM, nn.GRU}
    with warnings.catch_warnings():  # torch marks torch.ao.quantization as deprecated in favour of torchao
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.ao.quantization.quantize_dynamic(m, types, dtype=torch.qint8)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      targets: torch.Tensor | None, T: float = 4.0, alpha: float = 0.9) -> torch.Tensor:
    """Hinton et al.'s loss: alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1-alpha) * CE(s, y).

    student_logits, teacher_logits: (N, C); targets: (N,) class ids or None (then alpha = 1).
    """
    if T <= 0:
        raise ConfigError(f"--temperature must be > 0, got {T}")
    soft = F.kl_div(F.log_softmax(student_logits.float() / T, -1),
                    F.log_softmax(teacher_logits.float() / T, -1), log_target=True,
                    reduction="batchmean") * T * T
    if targets is None or alpha >= 1.0:
        return soft
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits.float(), targets)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_size_bytes(model: nn.Module) -> int:
    """Size of the serialized state dict in bytes (what a checkpoint of the weights takes)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def sparse_size_bytes(model: nn.Module) -> int:
    """Size if the pruned layers were stored sparsely (int32 index + fp32 value per non-zero)."""
    total = 0
    pruned = {id(w) for _, w in prunable_weights(model)}
    for p in model.parameters():
        total += int((p != 0).sum()) * 8 if id(p) in pruned else p.numel() * p.element_size()
    return total


@torch.no_grad()
def cpu_latency(model: nn.Module, example: torch.Tensor, repeats: int = 50, warmup: int = 5) -> float:
    """Median seconds per call of `model(example)` on CPU (one thread pool as configured)."""
    model = model.to("cpu").eval()
    example = example.to("cpu")
    for _ in range(warmup):
        model(example)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(example)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]

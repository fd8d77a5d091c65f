"""Compression shared by asr, nmt and vision: pruning, int8 quantization, distillation."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from speechlang.accel.compress import (
    apply_masks,
    count_params,
    distillation_loss,
    magnitude_prune,
    model_size_bytes,
    quantize_int8,
    sparse_size_bytes,
    sparsity_of,
)
from speechlang.errors import ConfigError


def net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 32),
                         nn.ReLU(), nn.Linear(32, 5))


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("sparsity", [0.5, 0.8])
def test_pruning_reaches_sparsity(scope, sparsity):
    m = net()
    magnitude_prune(m, sparsity, scope)
    assert sparsity_of(m) == pytest.approx(sparsity, abs=0.01)
    if scope == "layer":
        for layer in (m[0], m[3], m[5]):
            share = float((layer.weight == 0).float().mean())
            assert share == pytest.approx(sparsity, abs=1.5 / layer.weight.numel() + 0.01)


def test_global_pruning_keeps_the_largest_weights():
    m = net()
    before = torch.cat([m[i].weight.detach().abs().flatten() for i in (0, 3, 5)])
    magnitude_prune(m, 0.7, "global")
    after = torch.cat([m[i].weight.detach().abs().flatten() for i in (0, 3, 5)])
    kept = before[after > 0]
    dropped = before[after == 0]
    assert kept.min() >= dropped.max()


def test_masks_keep_pruned_weights_at_zero_after_an_update():
    m = net()
    masks = magnitude_prune(m, 0.6)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1)
    apply_masks(m, masks)
    assert sparsity_of(m) == pytest.approx(0.6, abs=0.01)
    assert sparse_size_bytes(m) < model_size_bytes(m)


def test_bad_sparsity():
    with pytest.raises(ConfigError):
        magnitude_prune(net(), 1.0)


def test_int8_model_agrees_with_float():
    m = net().eval()
    x = torch.randn(200, 1, 8, 8)
    q = quantize_int8(m)
    with torch.no_grad():
        agree = (m(x).argmax(1) == q(x).argmax(1)).float().mean()
    assert agree > 0.9
    assert model_size_bytes(q) < model_size_bytes(m)
    assert count_params(m) == 4 * 9 + 4 + 144 * 32 + 32 + 32 * 5 + 5


def test_distillation_loss_matches_definition():
    torch.manual_seed(0)
    s, t, y = torch.randn(6, 5), torch.randn(6, 5), torch.randint(0, 5, (6,))
    T, a = 3.0, 0.7
    p_t = F.softmax(t / T, -1)
    kl = (p_t * (p_t.log() - F.log_softmax(s / T, -1))).sum(-1).mean()
    expected = a * T * T * kl + (1 - a) * F.cross_entropy(s, y)
    assert distillation_loss(s, t, y, T, a).item() == pytest.approx(expected.item(), rel=1e-5)
    assert distillation_loss(t, t, None, T).item() == pytest.approx(0.0, abs=1e-6)

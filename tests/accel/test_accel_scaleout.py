"""Hogwild workers and the hard mixture-of-experts layer."""

import pytest
import torch
from torch import nn

from speechlang.accel import TrainConfig, index_batches
from speechlang.accel.hogwild import hogwild_fit
from speechlang.accel.moe import HardMoE, MoEConfig
from speechlang.errors import ConfigError

N, DIM = 256, 6


def regression():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, DIM, generator=g)
    y = x @ torch.linspace(-1, 1, DIM) + 0.5
    return x, y[:, None]


def test_hogwild_workers_share_parameters_and_loss_falls():
    x, y = regression()
    torch.manual_seed(0)
    model = nn.Linear(DIM, 1)
    seen = torch.zeros(2, N).share_memory_()  # one row per worker

    def batches(epoch, env):
        for idx in index_batches(N, 16, epoch=epoch, seed=1, env=env):
            yield x[idx], y[idx], torch.as_tensor(idx), env.rank

    def loss_fn(net, b):
        seen[b[3], b[2]] += 1  # shared memory: every worker's items are visible here
        return nn.functional.mse_loss(net(b[0]), b[1]), len(b[1])

    with torch.no_grad():
        before = float(nn.functional.mse_loss(model(x), y))
    hogwild_fit(model, loss_fn, batches, TrainConfig(epochs=5, lr=0.05, optimizer="sgd", momentum=0.0),
                workers=2, steps_per_epoch=N // 16)
    with torch.no_grad():
        after = float(nn.functional.mse_loss(model(x), y))
    assert after < 0.05 * before
    assert torch.equal(seen.sum(0), torch.full((N,), 5.0))  # every item, 5 epochs
    assert (seen.sum(1) == 5 * N / 2).all()  # both workers made progress on their shards


def test_hogwild_worker_failure_is_reported():
    x, y = regression()

    def batches(epoch, env):
        yield x[:4], y[:4]

    def loss_fn(net, b):
        raise ValueError("boom")

    with pytest.raises(Exception, match="hogwild worker .*boom"):
        hogwild_fit(nn.Linear(DIM, 1), loss_fn, batches, TrainConfig(epochs=1), workers=2)
    with pytest.raises(ConfigError):
        hogwild_fit(nn.Linear(DIM, 1), loss_fn, batches, TrainConfig(epochs=1), workers=0)


@torch.no_grad()
def test_moe_routes_each_input_to_one_expert():
    torch.manual_seed(0)
    moe = HardMoE(MoEConfig(dim=8, hidden=16, num_experts=3))
    x = torch.randn(5, 7, 8)
    out = moe(x)
    flat = x.reshape(-1, 8)
    probs = torch.softmax(moe.gate(flat), -1)
    for i in range(flat.shape[0]):
        e = int(probs[i].argmax())
        expected = moe.experts[e](flat[i:i + 1])[0] * probs[i, e]
        assert torch.allclose(out.reshape(-1, 8)[i], expected, atol=1e-6)
    assert int(moe.last_counts.sum()) == 35
    frac = moe.last_counts.float() / 35
    assert moe.aux_loss.item() == pytest.approx(3 * float((frac * probs.mean(0)).sum()), rel=1e-5)


def test_moe_gater_and_experts_get_gradients():
    torch.manual_seed(1)
    moe = HardMoE(MoEConfig(dim=4, hidden=8, num_experts=2))
    (moe(torch.randn(64, 4)).pow(2).mean() + 0.01 * moe.aux_loss).backward()
    assert moe.gate.weight.grad.abs().sum() > 0
    assert moe.flops_per_example() == 4 * 2 + 2 * 4 * 8

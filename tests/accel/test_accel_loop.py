"""The shared training loop: seeds, checkpoints and resume, precision, schedules, early stop."""

import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from speechlang.accel import TrainConfig, fit, index_batches, load_checkpoint, save_checkpoint
from speechlang.accel.loop import BEST, LAST
from speechlang.accel.schedule import LRSchedule
from speechlang.errors import ConfigError, DataError, FormatError

N, DIM = 96, 5


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, DIM, generator=g)
    y = (x @ torch.arange(1.0, DIM + 1) > 0).long()
    return x, y


def make_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def task(seed=1, batch=8, poison=None):
    """batches/loss_fn for a small classification task; `poison(call)` may corrupt a loss."""
    x, y = data()
    calls = {"n": 0}

    def batches(epoch, env):
        for idx in index_batches(N, batch, epoch=epoch, seed=seed, env=env):
            yield x[idx], y[idx]

    def loss_fn(net, b):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(net(b[0]).float(), b[1])
        if poison is not None:
            loss = poison(calls["n"], loss)
        return loss, len(b[1])

    return batches, loss_fn


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def train(cfg, seed=1, out=None, resume=False, model=None, poison=None, evaluate=None, batch=8):
    model = model if model is not None else make_model(seed)
    batches, loss_fn = task(cfg.seed, batch=batch, poison=poison)
    res = fit(model, loss_fn, batches, cfg, out_dir=out, resume=resume, evaluate=evaluate,
              steps_per_epoch=N // batch)
    return model, res


def test_same_seed_same_weights_different_seed_differs():
    cfg = TrainConfig(epochs=2, lr=0.05, device="cpu", seed=3)
    a, _ = train(cfg)
    b, _ = train(cfg)
    c, _ = train(TrainConfig(epochs=2, lr=0.05, device="cpu", seed=4))
    assert torch.equal(weights(a), weights(b))
    assert not torch.allclose(weights(a), weights(c))


def test_training_reduces_loss():
    _, res = train(TrainConfig(epochs=8, lr=0.05, device="cpu"))
    assert res.history[-1]["train_loss"] < 0.6 * res.history[0]["train_loss"]


def test_checkpoint_round_trip(tmp_path):
    model = make_model(0)
    save_checkpoint(tmp_path / "c.pt", {"model": model.state_dict(), "config": {"a": 1}})
    ck = load_checkpoint(tmp_path / "c.pt")
    other = make_model(1)
    other.load_state_dict(ck["model"])
    assert torch.equal(weights(model), weights(other))
    assert ck["config"] == {"a": 1} and ck["format_version"] == 1 and "argv" in ck


def test_corrupt_checkpoint_is_a_format_error(tmp_path):
    p = tmp_path / "c.pt"
    save_checkpoint(p, {"model": make_model(0).state_dict()})
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(FormatError, match="truncated or corrupt"):
        load_checkpoint(p)
    (tmp_path / "x.pt").write_text("hello")
    with pytest.raises(FormatError):
        load_checkpoint(tmp_path / "x.pt")


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    p = tmp_path / "c.pt"
    save_checkpoint(p, {"model": make_model(0).state_dict()})
    before = p.read_bytes()
    real_save = torch.save

    def dying_save(obj, f, *a, **k):
        f.write(b"partial bytes")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(DataError, match="No space left"):
        save_checkpoint(p, {"model": make_model(1).state_dict()})
    monkeypatch.setattr(torch, "save", real_save)
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.parametrize("every", [0, 5])
def test_kill_and_resume_is_bit_identical(tmp_path, every):
    cfg = TrainConfig(epochs=4, lr=0.05, device="cpu", checkpoint_every=every,
                      schedule="cosine", warmup_steps=3)
    full, full_res = train(cfg, out=tmp_path / "full")

    class Killed(Exception):
        pass

    def kill_at(call, loss):  # dies in epoch 3, after checkpoints were written
        if call == 2 * (N // 8) + 7:
            raise Killed
        return loss

    with pytest.raises(Killed):
        train(cfg, out=tmp_path / "run", poison=kill_at)
    resumed, res = train(cfg, out=tmp_path / "run", resume=True, model=make_model(99))
    assert torch.equal(weights(full), weights(resumed))
    timing = ("items_per_s", "epoch_s")
    drop = lambda h: [{k: v for k, v in r.items() if k not in timing} for r in h]  # noqa: E731
    assert drop(res.history) == drop(full_res.history)


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint_last.pt"):
        train(TrainConfig(epochs=1, device="cpu"), out=tmp_path, resume=True)


def test_fp32_nan_guard_skips_step_without_touching_weights():
    def poison(call, loss):
        return loss * float("nan") if call == 3 else loss

    # three batches of 32: the third (last) is poisoned
    clean, _ = train(TrainConfig(epochs=1, lr=0.05, device="cpu", max_steps=2), batch=32)
    bad, res = train(TrainConfig(epochs=1, lr=0.05, device="cpu"), poison=poison, batch=32)
    assert res.skipped_steps == 1 and res.steps == 2
    # the poisoned step changed nothing: weights equal the clean run after two steps
    assert torch.equal(weights(clean), weights(bad))
    assert math.isfinite(res.history[0]["train_loss"])


def test_nan_every_step_aborts_with_a_clear_error():
    cfg = TrainConfig(epochs=1, lr=0.05, device="cpu", max_bad_steps=3)
    with pytest.raises(DataError, match="NaN/inf for 3 steps in a row"):
        train(cfg, poison=lambda call, loss: loss * float("inf"))


def test_fp16_loss_scaling_skips_inf_step():
    def poison(call, loss):
        return loss * float("inf") if call == 2 else loss

    cfg = TrainConfig(epochs=1, lr=0.05, device="cpu", precision="fp16", max_steps=4)
    model, res = train(cfg, poison=poison)
    # five batches ran: the overflowing one was skipped by the scaler, four steps counted
    assert res.skipped_steps == 1 and res.steps == 4
    assert torch.isfinite(weights(model)).all()


def test_bf16_autocast_on_cpu_trains():
    model, res = train(TrainConfig(epochs=6, lr=0.05, device="cpu", precision="bf16"))
    assert torch.isfinite(weights(model)).all()
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_early_stopping_and_best_checkpoint(tmp_path):
    vals = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    cfg = TrainConfig(epochs=6, lr=0.05, device="cpu", patience=2, monitor="val")
    _, res = train(cfg, out=tmp_path, evaluate=lambda m: {"val": next(vals)})
    assert res.stopped_early and res.epochs == 4 and res.best == 0.5 and res.best_epoch == 2
    assert (tmp_path / BEST).exists() and (tmp_path / LAST).exists()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4


@pytest.mark.parametrize("name", ["constant", "linear", "cosine", "inverse-sqrt"])
def test_schedule_shapes(name):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    s = LRSchedule(opt, 2.0, name, warmup_steps=10, total_steps=110, min_lr_ratio=0.1)
    f = s.factor_at
    assert f(5) == pytest.approx(0.5 * f(10))  # linear warm-up
    expected_end = {"constant": 1.0, "linear": 0.1, "cosine": 0.1, "inverse-sqrt": math.sqrt(10 / 110)}
    assert f(110) == pytest.approx(expected_end[name])
    if name == "cosine":
        assert f(60) == pytest.approx(0.1 + 0.9 * 0.5)
    assert s.set_step(109) == pytest.approx(2.0 * expected_end[name])


def test_plateau_schedule_halves_after_patience():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    s = LRSchedule(opt, 1.0, "plateau", factor=0.5, patience=2)
    for v in [1.0, 0.9, 0.95, 0.97]:
        s.observe(v)
    assert s.set_step(0) == pytest.approx(0.5)


def test_bad_config():
    with pytest.raises(ConfigError):
        TrainConfig(optimizer="lbfgs").check()
    with pytest.raises(ConfigError):
        TrainConfig(lr=-1).check()


def test_index_batches_cover_the_epoch():
    from speechlang.accel import DistEnv

    env = DistEnv()
    b0 = index_batches(50, 8, epoch=0, seed=1, env=env)
    b1 = index_batches(50, 8, epoch=1, seed=1, env=env)
    assert sorted(np.concatenate(b0).tolist()) == list(range(50))
    assert not np.array_equal(np.concatenate(b0), np.concatenate(b1))
    shards = [np.concatenate(index_batches(50, 8, epoch=0, seed=1, env=DistEnv(r, 3))) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    assert set(np.concatenate(shards).tolist()) == set(range(50))
    assert os.environ.get("WORLD_SIZE", "1") == "1"


def test_time_budget_ends_training_after_the_current_step(tmp_path):
    _, res = train(TrainConfig(epochs=5, lr=0.05, device="cpu", max_minutes=1e-9), out=tmp_path)
    assert res.epochs == 1 and res.steps == 1 and len(res.history) == 1
    assert (tmp_path / LAST).exists()

"""Data-parallel training: 2 gloo processes with batch b equal 1 process with batch 2b."""

import os
import socket

import torch
import torch.multiprocessing as mp
from torch import nn

from speechlang.accel import TrainConfig, fit, index_batches
from speechlang.accel.distributed import shutdown

N, DIM = 64, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(batch: int, out: str, resume: bool = False, epochs: int = 3) -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(N, DIM, generator=g), torch.randn(N, 1, generator=g)
    torch.manual_seed(7)  # same initial weights everywhere (DDP also broadcasts rank 0's)
    model = nn.Sequential(nn.Linear(DIM, 8), nn.Tanh(), nn.Linear(8, 1))
    cfg = TrainConfig(epochs=epochs, lr=0.1, optimizer="sgd", momentum=0.0, device="cpu", seed=5)

    def batches(epoch, env):
        for idx in index_batches(N, batch, epoch=epoch, seed=cfg.seed, env=env):
            yield x[idx], y[idx]

    def loss_fn(net, b):
        return nn.functional.mse_loss(net(b[0]), b[1]), len(b[1])

    fit(model, loss_fn, batches, cfg, out_dir=out, resume=resume)
    rank = os.environ.get("RANK", "0")
    torch.save(model.state_dict(), os.path.join(out, f"final_rank{rank}.pt"))


def worker(rank: int, world: int, port: int, batch: int, out: str, resume: bool, epochs: int) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    try:
        run(batch, out, resume, epochs)
    finally:
        shutdown()


def spawn(out, resume=False, epochs=3):
    mp.spawn(worker, args=(2, free_port(), 8, str(out), resume, epochs), nprocs=2, join=True)


def flat(sd):
    return torch.cat([v.flatten() for v in sd.values()])


def test_two_processes_equal_one_process_with_double_batch(tmp_path):
    spawn(tmp_path / "ddp")
    r0 = flat(torch.load(tmp_path / "ddp" / "final_rank0.pt"))
    r1 = flat(torch.load(tmp_path / "ddp" / "final_rank1.pt"))
    assert torch.equal(r0, r1)
    (tmp_path / "one").mkdir()
    run(16, str(tmp_path / "one"))
    single = flat(torch.load(tmp_path / "one" / "final_rank0.pt"))
    assert torch.allclose(r0, single, atol=1e-6), (r0 - single).abs().max()
    assert not torch.allclose(r0, flat(nn.Sequential(nn.Linear(DIM, 8), nn.Tanh(), nn.Linear(8, 1)).state_dict()))


def test_ddp_resume_continues_on_all_ranks(tmp_path):
    spawn(tmp_path / "a", epochs=4)
    spawn(tmp_path / "b", epochs=2)
    spawn(tmp_path / "b", resume=True, epochs=4)
    for r in (0, 1):
        full = flat(torch.load(tmp_path / "a" / f"final_rank{r}.pt"))
        resumed = flat(torch.load(tmp_path / "b" / f"final_rank{r}.pt"))
        assert torch.allclose(full, resumed, atol=1e-6)

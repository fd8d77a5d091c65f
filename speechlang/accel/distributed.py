"""Data-parallel training on torch.distributed, as launched by `torchrun`.

One code path for 1 process and for many machines: `init_distributed` reads torchrun's
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), joins the process group with
gloo on CPU or NCCL on GPU, and returns a `DistEnv`. Without torchrun it is a one-process env.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from speechlang.accel.seed import derive_seed
from speechlang.errors import ConfigError, DataError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def env_from_torchrun() -> DistEnv:
    """The rank layout torchrun exported, or a single process when absent."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistEnv(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(device: torch.device, timeout_s: float = 300.0) -> DistEnv:
    """Join the process group when launched with WORLD_SIZE > 1; idempotent.

    A rank that dies makes collective calls on the others fail after `timeout_s` seconds
    instead of hanging. A wrong rendezvous address fails with the address named.
    """
    env = env_from_torchrun()
    if not env.distributed:
        return env
    backend = "nccl" if device.type == "cuda" else "gloo"
    if dist.is_initialized():
        return DistEnv(env.rank, env.world_size, env.local_rank, dist.get_backend())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    addr = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    try:
        dist.init_process_group(
            backend=backend, timeout=datetime.timedelta(seconds=timeout_s),
            rank=env.rank, world_size=env.world_size,
        )
    except (RuntimeError, ValueError) as e:
        raise DataError(f"cannot join the process group at {addr} ({backend}): {e}") from None
    return DistEnv(env.rank, env.world_size, env.local_rank, backend)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard_indices(
    n: int, *, epoch: int, seed: int, rank: int = 0, world_size: int = 1,
    shuffle: bool = True, drop_last: bool = False,
) -> np.ndarray:
    """This rank's item indices for one epoch: a permutation seeded by (seed, epoch), split
    round-robin across ranks. Without drop_last the permutation is padded by wrapping so that
    every rank gets the same count (as torch's DistributedSampler). Shape (ceil(n/world),) int64.
    """
    if n <= 0:
        raise DataError("no items to shard: the data set is empty")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is not in a world of size {world_size}")
    order = (np.random.default_rng(derive_seed(seed, epoch)).permutation(n) if shuffle
             else np.arange(n))
    if drop_last:
        order = order[: n - n % world_size]
    else:
        pad = (-n) % world_size
        order = np.concatenate([order, np.resize(order, pad)]) if pad else order
    return order[rank::world_size].astype(np.int64)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum floats over all ranks (identity in one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_object(obj, src: int = 0):
    """Rank `src`'s Python object on every rank (identity in one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]

"""Data-parallel training on torch.distributed, as launched by `torchrun`.

One code path for 1 process and for many machines: `init_distributed` reads torchrun's
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), joins the process group with
gloo on CPU or NCCL on GPU, and returns a `DistEnv`. Without torchrun it is a one-process env.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import sys
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


def init_distributed(device: torch.device, timeout_s: float = 1800.0, rdzv_timeout_s: float = 60.0) -> DistEnv:
    """Join the process group when launched with WORLD_SIZE > 1; idempotent.

    Reaching the rendezvous store at MASTER_ADDR:MASTER_PORT (and, without torchrun's agent,
    rank 0 meeting every rank there) must succeed within `rdzv_timeout_s`, else a DataError
    names the address. Collectives time out after `timeout_s` (it must cover rank 0's
    evaluation, which the other ranks wait for). A rank that dies closes its gloo connections,
    so the others fail at their next collective; with NCCL they fail after `timeout_s`, raised
    in the calling thread (TORCH_NCCL_BLOCKING_WAIT=1) rather than aborting the process.
    `collective_errors` turns such failures into one line naming the rank.
    """
    env = env_from_torchrun()
    if not env.distributed:
        return env
    backend = "nccl" if device.type == "cuda" else "gloo"
    if dist.is_initialized():
        return DistEnv(env.rank, env.world_size, env.local_rank, dist.get_backend())
    if device.type == "cuda":
        torch.cuda.set_device(device)
        os.environ.setdefault("TORCH_NCCL_BLOCKING_WAIT", "1")
    addr = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    try:
        with _stderr_silenced():
            store, _, _ = next(dist.rendezvous("env://", env.rank, env.world_size,
                                               timeout=datetime.timedelta(seconds=rdzv_timeout_s)))
            store.set_timeout(datetime.timedelta(seconds=timeout_s))
            dist.init_process_group(backend=backend, store=dist.PrefixStore("default_pg", store),
                                    timeout=datetime.timedelta(seconds=timeout_s),
                                    rank=env.rank, world_size=env.world_size)
    except (RuntimeError, ValueError) as e:
        raise DataError(f"rank {env.rank}: cannot join the process group at {addr} ({backend}) within "
                        f"{rdzv_timeout_s:g} s: {_first_line(e)}; check MASTER_ADDR and MASTER_PORT "
                        "(torchrun --rdzv-endpoint HOST:PORT) and that every rank was started") from None
    return DistEnv(env.rank, env.world_size, env.local_rank, backend)


@contextlib.contextmanager
def _stderr_silenced():
    """File descriptor 2 to /dev/null for the block: torch's C++ store client logs every failed
    connection attempt there, stack frames included, where one line (the DataError) is enough."""
    sys.stderr.flush()
    try:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no usable descriptor 2: nothing to silence
        yield
        return
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _first_line(e: BaseException, limit: int = 200) -> str:
    """The gist of a torch.distributed error: its first sentence, without a source location."""
    lines = str(e).strip().splitlines()
    text = re.sub(r"^\[[^\]]*:\d+\]\s*", "", lines[0] if lines else type(e).__name__)
    return text.split(". ")[0][:limit].rstrip(".")


@contextlib.contextmanager
def collective_errors():
    """Report a failed collective under torchrun (another rank died, hung past the timeout or
    lost its connection) as one DataError line naming this rank, instead of a traceback."""
    env = env_from_torchrun()
    try:
        yield
    except RuntimeError as e:  # torch.distributed.DistError and gloo's exceptions are RuntimeErrors
        if not (env.distributed and dist.is_initialized() and _is_collective_failure(e)):
            raise
        raise DataError(f"rank {env.rank} of {env.world_size}: a collective operation failed, so another "
                        f"rank has probably died or hung (see its log): {_first_line(e)}") from None


def _is_collective_failure(e: RuntimeError) -> bool:
    text = str(e).lower()
    return isinstance(e, dist.DistError) or any(k in text for k in (
        "gloo", "nccl", "connection closed", "connection reset", "by peer", "broken pipe", "socket", "timed out",
        "timeout"))


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

"""Lock-free asynchronous SGD (Hogwild, Recht et al. 2011) for torch models on CPU.

N worker processes share the model's parameters in shared memory; each runs the ordinary
training loop (`fit`) over its own shard of every epoch and writes its updates straight into
the shared tensors, without locks. Sparse updates (embeddings, word2vec) rarely collide, and
dense models still converge at small learning rates. Workers are forked, so `loss_fn` and
`batches` may be closures; each worker uses one intra-op thread.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import replace

import torch
from torch import nn

from speechlang import log
from speechlang.accel.distributed import DistEnv
from speechlang.accel.loop import TrainConfig, fit
from speechlang.errors import ConfigError, DataError


def _worker(rank, workers, model, loss_fn, batches, cfg, steps_per_epoch, errors):
    try:
        torch.set_num_threads(1)
        if rank != 0:
            log.set_quiet(True)
        shard = DistEnv(rank, workers)
        fit(model, loss_fn, lambda epoch, env: batches(epoch, shard), replace(cfg, device="cpu"),
            steps_per_epoch=steps_per_epoch, desc=f"hogwild worker {rank}")
    except BaseException as e:  # reported by the parent, which exits non-zero
        errors.put(f"hogwild worker {rank}: {type(e).__name__}: {e}")
        raise SystemExit(1) from None


def hogwild_fit(model: nn.Module, loss_fn, batches, cfg: TrainConfig, workers: int,
                *, steps_per_epoch: int | None = None) -> float:
    """Train `model` in place with `workers` lock-free processes; returns wall seconds.

    `batches(epoch, env)` must shard by `env.rank`/`env.world_size` (as `index_batches` does):
    worker w receives DistEnv(w, workers). Each worker has its own optimizer state.
    """
    if workers < 1:
        raise ConfigError(f"--hogwild must be >= 1, got {workers}")
    if next(model.parameters()).device.type != "cpu":
        raise ConfigError("--hogwild runs on CPU shared memory; use DDP (torchrun) on GPUs")
    model.share_memory()
    ctx = mp.get_context("fork")
    errors = ctx.SimpleQueue()
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_worker, args=(r, workers, model, loss_fn, batches, cfg,
                                                steps_per_epoch and -(-steps_per_epoch // workers), errors))
             for r in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if not errors.empty() or any(p.exitcode != 0 for p in procs):
        msg = errors.get() if not errors.empty() else f"a worker exited with {[p.exitcode for p in procs]}"
        raise DataError(msg)
    return time.perf_counter() - t0

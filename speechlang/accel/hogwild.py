"""Lock-free asynchronous SGD (Hogwild, Recht et al. 2011) for torch models on CPU.

N worker processes share the model's parameters and buffers in shared memory; each runs the
ordinary training loop (`fit`) over its own shard of every epoch and writes its updates
straight into the shared tensors, without locks. Sparse updates (embeddings, word2vec) rarely
collide, and dense models still converge at small learning rates. Workers are forked, so
`loss_fn` and `batches` may be closures; each uses one intra-op thread and keeps its own
optimizer state. Afterwards the parent evaluates the shared model once and writes what `fit`
writes: checkpoint_last.pt and checkpoint_best.pt (the final model) and metrics.jsonl.

    result = hogwild_fit(model, loss_fn, batches, TrainConfig(epochs=5, device="cpu"), workers=2)
"""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn

from speechlang import log
from speechlang.accel.checkpoint import save_checkpoint
from speechlang.accel.distributed import DistEnv, env_from_torchrun
from speechlang.accel.loop import BEST, LAST, TrainConfig, TrainResult, fit
from speechlang.accel.malloc import keep_freed_memory
from speechlang.accel.precision import precision_policy
from speechlang.accel.seed import derive_seed
from speechlang.errors import ConfigError, DataError
from speechlang.io import atomic_output

ITEMS, LOSS_SUM, SECONDS, STEPS = range(4)  # per (worker, epoch) figures the workers fill in


def check_hogwild(cfg: TrainConfig, workers: int, *, resume: bool = False) -> None:
    """ConfigError unless Hogwild can run: workers >= 1, on the CPU, not under torchrun."""
    if workers < 1:
        raise ConfigError(f"--hogwild must be >= 1, got {workers}")
    env = env_from_torchrun()
    if env.distributed:
        raise ConfigError(f"--hogwild starts its own worker processes on one machine and cannot run under "
                          f"torchrun (WORLD_SIZE={env.world_size}); drop torchrun or --hogwild")
    if cfg.device.strip().lower() not in ("auto", "cpu"):
        raise ConfigError(f"--hogwild shares parameters in CPU memory and cannot use --device {cfg.device}; "
                          "use --device cpu, or data-parallel training under torchrun on GPUs")
    if resume:
        raise ConfigError("--resume does not work with --hogwild (the workers' optimizer states are not kept)")


def _worker(rank, workers, model, loss_fn, batches, cfg, steps_per_epoch, desc, unit, stats, errors):
    try:
        torch.set_num_threads(1)
        if rank != 0:
            log.set_quiet(True)
        shard = DistEnv(rank, workers)
        res = fit(model, loss_fn, lambda epoch, env: batches(epoch, shard), cfg,
                  steps_per_epoch=steps_per_epoch, desc=f"{desc} (hogwild worker {rank})", unit=unit)
        for e, rec in enumerate(res.history):
            items = round(rec["items_per_s"] * rec["epoch_s"])
            stats[rank, e] = torch.tensor([items, rec["train_loss"] * items, rec["epoch_s"], rec["step"]],
                                          dtype=stats.dtype)
    except BaseException as e:  # reported by the parent, which raises
        errors.put(f"hogwild worker {rank}: {type(e).__name__}: {e}")
        raise SystemExit(1) from None


def hogwild_fit(model: nn.Module, loss_fn, batches, cfg: TrainConfig, workers: int, *,
                evaluate=None, out_dir: str | Path | None = None, steps_per_epoch: int | None = None,
                model_config: dict | None = None, extra: dict | None = None, desc: str = "train",
                unit: str = "items") -> TrainResult:
    """Train `model` in place with `workers` lock-free processes; the arguments are `fit`'s.

    `batches(epoch, env)` must shard by `env.rank`/`env.world_size` (as `index_batches` does):
    worker w receives DistEnv(w, workers). `steps_per_epoch` counts all workers' batches.
    Each history record holds the epoch's figures summed over the workers (`items_per_s`:
    all items over the slowest worker's seconds) and `worker_items`, the items each worker
    trained on; `evaluate(model)` runs once, after the last epoch, and its metrics join the
    last record.
    """
    check_hogwild(cfg, workers)
    keep_freed_memory()  # before the workers fork: they inherit it
    import torch._dynamo  # noqa: F401 - optimizers import it on first use (seconds): once here, not per worker

    cpu = torch.device("cpu")
    model.to(cpu).share_memory()
    # each worker: its own dropout seed; no evaluation, so it monitors its training loss
    wcfg = replace(cfg, device="cpu", monitor="train_loss", monitor_mode="min", patience=0)
    stats = torch.zeros(workers, max(cfg.epochs, 1), 4, dtype=torch.float64).share_memory_()
    ctx = mp.get_context("fork")
    errors = ctx.SimpleQueue()
    per_worker = steps_per_epoch and -(-steps_per_epoch // workers)
    procs = [ctx.Process(target=_worker, args=(r, workers, model, loss_fn, batches,
                                                replace(wcfg, seed=derive_seed(cfg.seed, r, 0x40C)),
                                                per_worker, desc, unit, stats, errors))
             for r in range(workers)]
    log.info(f"hogwild: {workers} worker processes on the CPU, parameters in shared memory")
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if not errors.empty() or any(p.exitcode != 0 for p in procs):
        msg = errors.get() if not errors.empty() else f"a worker exited with {[p.exitcode for p in procs]}"
        raise DataError(msg)

    history = []
    for e in range(stats.shape[1]):
        s = stats[:, e]
        items = float(s[:, ITEMS].sum())
        if items == 0:
            break
        secs = float(s[:, SECONDS].max())
        history.append({"epoch": e + 1, "step": int(s[:, STEPS].sum()),
                        "train_loss": float(s[:, LOSS_SUM].sum()) / items, "items_per_s": items / secs,
                        "epoch_s": secs, "hogwild_workers": workers,
                        "worker_items": [int(x) for x in s[:, ITEMS]]})
    if not history:
        raise DataError("hogwild: the workers trained on no batches; is the training data empty?")
    if evaluate is not None:
        model.eval()
        with torch.no_grad(), precision_policy(cfg.precision, cpu).autocast():
            history[-1].update({k: float(v) for k, v in evaluate(model).items()})
        model.train()
    last = history[-1]
    value = last.get(cfg.monitor, last["train_loss"] if cfg.monitor in ("loss", "train_loss") else None)
    if value is None:
        raise ConfigError(f"the monitored metric {cfg.monitor!r} is not among {sorted(last)}")
    for rec in history:
        log.info(" ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = {"config": asdict(cfg), "model_config": model_config or {}, "extra": extra or {},
                 "model": model.state_dict(), "trainer": json.dumps({"hogwild": workers, "history": history})}
        for name in (LAST, BEST):
            save_checkpoint(out / name, state)
        with atomic_output(out / "metrics.jsonl") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in history)
    return TrainResult(len(history), last["step"], value, len(history), False, 0, history)

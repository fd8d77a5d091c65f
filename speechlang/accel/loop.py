"""The one training loop behind every torch trainer (w2v torch path, ASR DNN, NMT, vision).

`fit(model, loss_fn, batches, config)` runs epochs of mini-batch training with mixed
precision, gradient accumulation and clipping, an LR schedule, a NaN/inf guard, evaluation
and early stopping, progress on stderr, metrics as JSON lines, and atomic checkpoints.
Launched by torchrun it wraps the model in DistributedDataParallel; rank 0 alone logs,
evaluates and writes checkpoints.

Contract with the caller, which makes `--resume` bit-identical on CPU:
- `batches(epoch, env)` returns the epoch's batches for this rank and is a pure function of
  (epoch, env, the caller's seed): use `shard_indices`/`index_batches` or a generator seeded
  from `derive_seed(seed, epoch)`, never the global RNG (the loop owns that one, for dropout).
- `loss_fn(model, batch)` returns (mean loss over the batch's items, item count).
- `evaluate(model)` returns a dict of floats that holds `config.monitor`.
- the caller builds the model, seeding its initial weights itself (e.g. with
  `set_seed(derive_seed(seed, ...))`): `fit` seeds the global RNGs from (seed, rank) only
  after the model exists, for dropout and other training-time draws.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechlang import log
from speechlang.accel.checkpoint import load_checkpoint, save_checkpoint
from speechlang.accel.device import resolve_device
from speechlang.accel.distributed import (
    DistEnv,
    all_reduce_sum,
    broadcast_object,
    collective_errors,
    init_distributed,
    shard_indices,
)
from speechlang.accel.malloc import keep_freed_memory
from speechlang.accel.precision import precision_policy
from speechlang.accel.schedule import LRSchedule
from speechlang.accel.seed import derive_seed, get_rng_state, set_rng_state, set_seed
from speechlang.errors import ConfigError, DataError
from speechlang.io import atomic_output

OPTIMIZERS = ("adamw", "adam", "sgd")
LAST, BEST = "checkpoint_last.pt", "checkpoint_best.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Options of the training loop; each trainer's CLI maps its options onto these fields."""

    epochs: int = field(default=10, metadata={"help": "passes over the training data"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many optimizer steps (0: no limit)"})
    max_minutes: float = field(default=0.0, metadata={
        "help": "stop after this much training time; the epoch it ends is evaluated and saved (0: no limit)"})
    lr: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    optimizer: str = field(default="adamw", metadata={"help": "adamw, adam or sgd"})
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    weight_decay: float = 0.0
    schedule: str = field(default="constant", metadata={"help": "constant, linear, cosine, inverse-sqrt or plateau"})
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    clip_norm: float = field(default=0.0, metadata={"help": "clip the gradient norm to this (0: off)"})
    grad_accum: int = field(default=1, metadata={"help": "batches per optimizer step"})
    precision: str = field(default="fp32", metadata={"help": "fp32, bf16 or fp16 (loss scaling)"})
    device: str = "auto"
    seed: int = 1
    patience: int = field(default=0, metadata={"help": "stop after this many evaluations without improvement (0: off)"})
    monitor: str = field(default="loss", metadata={"help": "evaluation metric for early stopping and best model"})
    monitor_mode: str = field(default="min", metadata={"help": "min or max"})
    checkpoint_every: int = field(default=0, metadata={"help": "also checkpoint every N steps (0: each epoch only)"})
    keep_epochs: int = field(default=0, metadata={"help": "keep the last N per-epoch checkpoints (for averaging)"})
    max_bad_steps: int = field(default=50, metadata={"help": "abort after this many non-finite steps in a row"})
    dist_timeout_s: float = field(default=1800.0, metadata={
        "help": "seconds a collective may wait under torchrun (covers rank 0's evaluation)"})
    rdzv_timeout_s: float = field(default=60.0, metadata={
        "help": "seconds to reach MASTER_ADDR:MASTER_PORT and meet the other ranks"})

    def check(self) -> None:
        if self.epochs < 1 and self.max_steps < 1:
            raise ConfigError("--epochs must be >= 1")
        if self.lr <= 0 or not math.isfinite(self.lr):
            raise ConfigError(f"--lr must be a positive number, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"--optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.grad_accum < 1:
            raise ConfigError("--grad-accum must be >= 1")
        if self.monitor_mode not in ("min", "max"):
            raise ConfigError("monitor_mode must be min or max")


@dataclass
class TrainResult:
    epochs: int
    steps: int
    best: float | None
    best_epoch: int
    stopped_early: bool
    skipped_steps: int
    history: list[dict]


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def to_device(batch, device: torch.device):
    """Move tensors in nested tuples/lists/dicts to `device`; other values pass through."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def index_batches(n: int, batch_size: int, *, epoch: int, seed: int, env: DistEnv,
                  shuffle: bool = True, drop_last: bool = False) -> list[np.ndarray]:
    """This rank's mini-batches of item indices for one epoch (see `shard_indices`)."""
    if batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    idx = shard_indices(n, epoch=epoch, seed=seed, rank=env.rank, world_size=env.world_size,
                        shuffle=shuffle)
    stop = len(idx) - len(idx) % batch_size if drop_last and len(idx) >= batch_size else len(idx)
    return [idx[i:i + batch_size] for i in range(0, stop, batch_size)]


def group_batches(groups: np.ndarray, size: int, *, epoch: int, seed: int,
                  env: DistEnv) -> list[np.ndarray]:
    """This rank's mini-batches of item indices for one epoch, each batch from one group only
    (groups (N,) ints, e.g. speakers): each group's items shuffled and cut into batches of
    `size` (its last one shorter), the batches shuffled and dealt to the ranks in turn (the
    same number to each)."""
    rng = np.random.default_rng(derive_seed(seed, 0xB7, epoch))
    out = []
    for g in np.unique(groups):
        idx = rng.permutation(np.flatnonzero(groups == g))
        out += [idx[i:i + size] for i in range(0, len(idx), size)]
    order = rng.permutation(len(out))
    order = order[:len(order) - len(order) % env.world_size]
    return [out[i] for i in order[env.rank::env.world_size]]


def _improved(value: float, best: float | None, mode: str) -> bool:
    return best is None or (value < best if mode == "min" else value > best)


def _past(deadline: float, env: DistEnv, device: torch.device) -> bool:
    """Whether the time budget is spent; under DDP rank 0's clock decides, so that every rank
    stops after the same step (a rank that stopped alone would leave the others waiting)."""
    past = time.perf_counter() > deadline
    if env.distributed:
        flag = torch.tensor([float(past)], device=device)
        torch.distributed.broadcast(flag, 0)
        past = bool(flag.item())
    return past


def end_epoch(st: dict, rec: dict, cfg: TrainConfig, sched: LRSchedule, epoch: int) -> bool:
    """Book one finished epoch into the loop state `st`: the monitored value of `rec` (the
    epoch's metrics) steps a plateau schedule and the best/patience counters, `rec` joins the
    history and is logged. Returns whether the monitored value improved."""
    value = rec.get(cfg.monitor)
    if value is None:
        value = rec["train_loss"] if cfg.monitor in ("loss", "train_loss") else None
    if value is None:
        raise ConfigError(f"the monitored metric {cfg.monitor!r} is not among {sorted(rec)}")
    sched.observe(value)
    improved = _improved(value, st["best"], cfg.monitor_mode)
    if improved:
        st["best"], st["best_epoch"], st["bad_evals"] = value, epoch + 1, 0
    else:
        st["bad_evals"] += 1
    st["history"].append(rec)
    st["epoch"] = epoch + 1
    if cfg.patience and st["bad_evals"] >= cfg.patience:
        st["stopped_early"] = True
    log.info(" ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()))
    return improved


def write_epoch(save: Callable[[str], None], out: Path | None, cfg: TrainConfig, epoch: int, improved: bool,
                is_main: bool, history: list[dict]) -> None:
    """The end-of-epoch files: save(name) writes checkpoint `name` (best when improved, the
    last `keep_epochs` per-epoch ones, last); rank 0 rewrites out/metrics.jsonl."""
    if improved:
        save(BEST)
    if cfg.keep_epochs:
        save(f"checkpoint_epoch{epoch + 1}.pt")
        stale = out / f"checkpoint_epoch{epoch + 1 - cfg.keep_epochs}.pt" if out else None
        if stale is not None and is_main and stale.exists():
            stale.unlink()
    save(LAST)
    if out is not None and is_main:
        with atomic_output(out / "metrics.jsonl") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in history)


@collective_errors()
def fit(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, object], tuple[torch.Tensor, int]],
    batches: Callable[[int, DistEnv], Iterable],
    cfg: TrainConfig,
    *,
    evaluate: Callable[[nn.Module], dict] | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    steps_per_epoch: int | None = None,
    model_config: dict | None = None,
    extra: dict | None = None,
    desc: str = "train",
    unit: str = "items",
) -> TrainResult:
    """Train `model` in place; returns a summary. Checkpoints go to `out_dir` when given:
    checkpoint_last.pt (every epoch and every `checkpoint_every` steps), checkpoint_best.pt
    (best `monitor`), checkpoint_epochN.pt (last `keep_epochs`), metrics.jsonl.
    `model_config` and `extra` are stored in every checkpoint for rebuilding the model;
    `desc` and `unit` (what loss_fn's item count counts) label the progress bar.
    """
    cfg.check()
    keep_freed_memory()
    device = resolve_device(cfg.device)
    env = init_distributed(device, cfg.dist_timeout_s, cfg.rdzv_timeout_s)
    prec = precision_policy(cfg.precision, device)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and env.is_main:
        out.mkdir(parents=True, exist_ok=True)
    if resume and out is None:
        raise ConfigError("--resume needs an output directory holding checkpoint_last.pt")

    model.to(device)
    net: nn.Module = model
    if env.distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    accum = cfg.grad_accum
    total = cfg.max_steps or (cfg.epochs * math.ceil(steps_per_epoch / accum) if steps_per_epoch else 0)
    sched = LRSchedule(opt, cfg.lr, cfg.schedule, warmup_steps=cfg.warmup_steps, total_steps=total,
                       min_lr_ratio=cfg.min_lr_ratio, factor=cfg.plateau_factor,
                       patience=cfg.plateau_patience, mode=cfg.monitor_mode)
    scaler = prec.scaler()

    st = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "best": None, "best_epoch": -1,
          "bad_evals": 0, "skipped": 0, "bad_run": 0, "loss_sum": 0.0, "items": 0,
          "history": [], "stopped_early": False}
    set_seed(derive_seed(cfg.seed, env.rank, 0x5EED), numba_too=False)
    if resume:
        ckpt_path = out / LAST
        if not ckpt_path.is_file():
            raise ConfigError(f"--resume: no {LAST} in {out}; run without --resume to start afresh")
        ck = load_checkpoint(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if scaler is not None and ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        st.update(json.loads(ck["trainer"]))
        set_rng_state(ck["rng"])
        sched.set_step(st["step"])
        log.info(f"resumed from {ckpt_path} at epoch {st['epoch'] + 1}, step {st['step']}")

    def checkpoint(name: str) -> None:
        if out is None or not env.is_main:
            return
        save_checkpoint(out / name, {
            "config": asdict(cfg), "model_config": model_config or {}, "extra": extra or {},
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "scaler": scaler.state_dict() if scaler else {},
            "trainer": json.dumps(st), "rng": get_rng_state(),
        })

    params = [p for p in model.parameters() if p.requires_grad]

    def optimizer_step() -> None:
        if scaler is not None:
            scaler.unscale_(opt)
        norm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm if cfg.clip_norm > 0 else float("inf"))
        finite = bool(torch.isfinite(norm))
        if scaler is not None:
            scaler.step(opt)  # skips the update itself when the gradients overflowed
            scaler.update()
        elif finite:
            opt.step()
        opt.zero_grad(set_to_none=True)
        if finite:
            st["bad_run"] = 0
            st["step"] += 1
            sched.set_step(st["step"])
            return
        st["skipped"] += 1
        st["bad_run"] += 1
        log.warn(f"non-finite gradient at epoch {st['epoch'] + 1} step {st['step'] + 1}: step skipped"
                 + (" (fp16 loss scale lowered)" if scaler is not None else ""))
        if st["bad_run"] >= cfg.max_bad_steps:
            raise DataError(
                f"loss or gradients were NaN/inf for {st['bad_run']} steps in a row at epoch "
                f"{st['epoch'] + 1}; lower --lr, clip gradients (--clip-norm) or use --precision fp32")

    done = False
    deadline = time.perf_counter() + 60 * cfg.max_minutes if cfg.max_minutes > 0 else None
    while st["epoch"] < cfg.epochs and not done:
        epoch, skip = st["epoch"], st["batch_in_epoch"]
        net.train()
        t0 = time.perf_counter()
        loss_acc = torch.zeros((), dtype=torch.float64, device=device)
        items_acc = torch.zeros((), dtype=torch.int64, device=device)
        batches_here = 0
        prog = log.Progress(f"{desc} epoch {epoch + 1}/{cfg.epochs}", steps_per_epoch, "batches")
        pending, seen = 0, 0
        for bi, batch in enumerate(batches(epoch, env)):
            if bi < skip:
                continue
            batch = to_device(batch, device)
            pending += 1
            sync = pending == accum
            ctx = net.no_sync() if env.distributed and not sync else contextlib.nullcontext()
            with ctx:
                with prec.autocast():
                    loss, n = loss_fn(net, batch)
                (scaler.scale(loss / accum) if scaler else loss / accum).backward()
            finite = torch.isfinite(loss.detach())  # skipped steps stay out of the epoch loss
            loss_acc += torch.where(finite, loss.detach().double() * n, 0.0)
            items_acc += finite * n
            batches_here += 1
            seen += n
            if prog.enabled:  # reading the loss syncs a GPU: only when the bar is shown
                prog.update(1, loss=float(loss.detach()), lr=opt.param_groups[0]["lr"],
                            **{f"{unit}/s": seen / max(time.perf_counter() - t0, 1e-9)})
            if not sync:
                continue
            pending = 0
            optimizer_step()
            if cfg.checkpoint_every and st["step"] % cfg.checkpoint_every == 0:
                st["loss_sum"] += float(loss_acc)
                st["items"] += int(items_acc)
                loss_acc.zero_()
                items_acc.zero_()
                st["batch_in_epoch"] = bi + 1
                checkpoint(LAST)
            if cfg.max_steps and st["step"] >= cfg.max_steps:
                done = True
                break
            if deadline is not None and _past(deadline, env, device):
                log.info(f"time budget of {cfg.max_minutes:g} min reached in epoch {epoch + 1}")
                done = True
                break
        if pending:  # a last, partial accumulation: its gradients were not all-reduced yet
            if env.distributed:
                for p in params:
                    if p.grad is not None:
                        torch.distributed.all_reduce(p.grad)
                        p.grad /= env.world_size
            optimizer_step()
        prog.close()
        if batches_here == 0 and skip == 0:
            raise DataError(f"epoch {epoch + 1} had no training batches: is the training data empty?")
        loss_sum, items = all_reduce_sum([st["loss_sum"] + float(loss_acc), st["items"] + int(items_acc)], device)
        secs = time.perf_counter() - t0
        rec = {"epoch": epoch + 1, "step": st["step"], "train_loss": loss_sum / items if items else math.nan,
               "lr": opt.param_groups[0]["lr"], "items_per_s": items / secs, "epoch_s": secs,
               "skipped_steps": st["skipped"]}
        metrics = None
        if evaluate is not None:
            if env.is_main:
                net.eval()
                with torch.no_grad(), prec.autocast():
                    metrics = {k: float(v) for k, v in evaluate(model).items()}
                net.train()
            metrics = broadcast_object(metrics)
            rec.update(metrics)
        improved = end_epoch(st, rec, cfg, sched, epoch)
        st.update(batch_in_epoch=0, loss_sum=0.0, items=0)
        done = done or st["stopped_early"]
        write_epoch(checkpoint, out, cfg, epoch, improved, env.is_main, st["history"])
        if st["stopped_early"]:
            log.info(f"early stop: no better {cfg.monitor} for {cfg.patience} evaluations "
                     f"(best {st['best']:.5g} at epoch {st['best_epoch']})")
    return TrainResult(st["epoch"], st["step"], st["best"], st["best_epoch"], st["stopped_early"],
                       st["skipped"], st["history"])

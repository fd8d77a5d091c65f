"""Model parallelism: the Transformer split into two pipeline stages, one process each.

    speechlang nmt train --model-parallel 2 ...     # spawns 2 processes (or: torchrun --nproc-per-node 2 ...)

Stage 0 holds the source embedding and the encoder; stage 1 the target embedding, the decoder
and the output layer. Each batch is cut into `micro_batches` pieces along the sentences
(GPipe, Huang et al. 2019): stage 0 encodes them one after the other and sends each encoder
output (B, S, D) to stage 1 with a non-blocking torch.distributed send, so it encodes piece
m + 1 while stage 1 decodes piece m; stage 1 computes the loss of each piece, then
backpropagates each piece to its input and sends that gradient (B, S, D) back, and stage 0
finishes the backward pass of each piece as its gradient arrives.
gloo carries the tensors on CPU, NCCL between two GPUs (stage r on cuda:r).

A source/target/output embedding shared by both stages (--share-embeddings) is kept on both
and its gradient summed across them after the backward pass (Megatron-LM's treatment of tied
embeddings), and gradient clipping uses the norm over both stages, so a step is the
single-process step up to float rounding. Both processes read the same batches (they are a
pure function of seed and epoch). For evaluation and checkpoints rank 0 gathers stage 1's
parameters into a whole model: checkpoints are ordinary single-model checkpoints, so
translate, average and ensembles take them. Not supported here: --resume, --grad-accum,
fp16 loss scaling, mixture-of-experts layers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import pickle
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from speechlang import errors, log
from speechlang.accel import TrainConfig, TrainResult, derive_seed, resolve_device, save_checkpoint, set_seed
from speechlang.accel.distributed import DistEnv, init_distributed, shutdown
from speechlang.accel.loop import build_optimizer, end_epoch, to_device, write_epoch
from speechlang.accel.malloc import keep_freed_memory
from speechlang.accel.precision import precision_policy
from speechlang.accel.schedule import LRSchedule
from speechlang.errors import ConfigError, DataError
from speechlang.nmt.subword import PAD

BWD_TAG = 1 << 16  # send/recv tags: micro-batch m forward = m, backward = BWD_TAG + m


def split_stage(model: nn.Module, stage: int) -> nn.Module:
    """Keep only `stage`'s modules of a Transformer (in place) and return it.

    Stage 0: src_embed, encoder, enc_ln. Stage 1: tgt_embed, decoder, dec_ln, output. The
    parameter names stay those of the whole model, so the stages' state dicts merge into one.
    """
    if stage not in (0, 1):
        raise ConfigError(f"pipeline stage {stage} does not exist (two stages: 0 and 1)")
    shared = model.src_embed is model.tgt_embed
    if stage == 0:
        model.decoder, model.dec_ln, model.output = nn.ModuleList(), None, None
        if not shared:
            model.tgt_embed = None
    else:
        model.encoder, model.enc_ln = nn.ModuleList(), None
        if not shared:
            model.src_embed = None
    return model


def shared_weight(model: nn.Module) -> torch.Tensor | None:
    """The embedding both stages hold (--share-embeddings), else None."""
    if model.src_embed is not None and model.src_embed is model.tgt_embed:
        return model.tgt_embed.weight
    return None


class ActivationMeter:
    """Bytes of the tensors autograd saves for the backward pass inside `with meter:`, each
    storage counted once and parameters not counted (Megatron's activation-memory measure)."""

    def __init__(self, params: Iterable[torch.Tensor]):
        self.param_ptrs = {p.untyped_storage().data_ptr() for p in params}
        self.seen: set[int] = set()
        self.bytes = 0

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in self.param_ptrs and ptr not in self.seen:
            self.seen.add(ptr)
            self.bytes += t.untyped_storage().nbytes()
        return t

    def __enter__(self):
        self.seen.clear()
        self.bytes = 0
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        self.seen.clear()


def param_bytes(model: nn.Module) -> int:
    """Bytes of the (distinct) parameters of `model`."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def peak_memory_bytes(device: torch.device) -> int:
    """Peak allocated GPU memory on a CUDA device, else this process's peak resident set size."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def pipeline_step(model: nn.Module, stage: int, batch, loss_sum: Callable, *, micro_batches: int = 1,
                  autocast=contextlib.nullcontext, meter: ActivationMeter | None = None) -> tuple[float, int]:
    """Forward and backward of one batch (src, tgt_in, tgt_out) across the two stages.

    loss_sum(model, x, tgt_out) -> the summed loss of decoder states x (B, T, D); each piece's
    loss is divided by the batch's target token count, so the gradients are those of the
    batch's mean loss. Returns (summed loss, target tokens) on stage 1, (0.0, tokens) on stage 0,
    and leaves the gradients in the parameters (not yet summed for a shared embedding).
    Schedule: GPipe's, every piece's forward pass, then every backward pass, on both stages;
    the pieces overlap across the stages (stage 0 encodes piece m + 1 while stage 1 decodes m,
    and backpropagates piece m while stage 1 does m + 1). With `meter`, its `bytes` is the
    activation memory at the stage's peak: all pieces' (micro-batches shorten the pipeline's
    idle time, not a stage's activation memory).
    """
    src, tgt_in, tgt_out = batch
    ntok = int((tgt_out != PAD).sum())
    pieces = [i for i in torch.arange(len(src), device=src.device).tensor_split(micro_batches) if len(i)]
    peer, peak = 1 - stage, 0
    measure = meter if meter is not None else contextlib.nullcontext()
    if stage == 0:
        sent, reqs = [], []
        for m, idx in enumerate(pieces):
            with autocast(), measure:
                mem = model.memory(src[idx]).float().contiguous()
            peak += meter.bytes if meter is not None else 0
            buf = mem.detach()
            reqs.append(dist.isend(buf, peer, tag=m))
            sent.append((mem, buf))
        for r in reqs:
            r.wait()
        for m, (mem, _) in enumerate(sent):
            grad = torch.empty_like(mem)
            dist.recv(grad, peer, tag=BWD_TAG + m)
            mem.backward(grad)
        total = 0.0
    else:
        total, reqs, grads, done = 0.0, [], [], []
        D = model.config.embed_dim
        for m, idx in enumerate(pieces):
            s = src[idx]
            mem = torch.empty(s.shape[0], s.shape[1], D, device=src.device)
            dist.recv(mem, peer, tag=m)
            mem.requires_grad_()
            with autocast(), measure:
                x = model.features(model.cross_kv(s, mem), tgt_in[idx])
                loss = loss_sum(model, x, tgt_out[idx]) / max(ntok, 1)
            peak += meter.bytes if meter is not None else 0
            done.append((mem, loss))
        # all forward passes, then all backward passes, in the order stage 0 sends and receives:
        # NCCL runs a rank's sends and receives one after another, so other orders can deadlock
        for m, (mem, loss) in enumerate(done):
            loss.backward()
            grads.append(mem.grad.contiguous())
            reqs.append(dist.isend(grads[-1], peer, tag=BWD_TAG + m))
            total += float(loss.detach()) * max(ntok, 1)
        for r in reqs:
            r.wait()
    if meter is not None:
        meter.bytes = peak
    return total, ntok


def sum_shared_grad(model: nn.Module) -> None:
    """Sum the shared embedding's gradient over both stages (no-op without sharing)."""
    w = shared_weight(model)
    if w is not None:
        if w.grad is None:
            w.grad = torch.zeros_like(w)
        dist.all_reduce(w.grad)


def gather_model_state(model: nn.Module, stage: int) -> dict | None:
    """The whole model's state dict (on CPU) at rank 0, merged from both stages; None at rank 1."""
    mine = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    box = [None, None] if stage == 0 else None
    dist.gather_object(mine, box, dst=0)
    return {**box[0], **box[1]} if stage == 0 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_rank(rank: int, world: int, port: int, threads: int, fn: Callable, args: tuple, box: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    try:
        out = fn(*args)
        if rank == 0:
            Path(box, "result.pickle").write_bytes(pickle.dumps(out))
        if dist.is_initialized():
            dist.barrier()  # no rank tears its connections down while another still uses them
    except errors.SpeechlangError as e:
        Path(box, f"error{rank}.json").write_text(json.dumps([type(e).__name__, str(e)]))
        sys.exit(1)
    finally:
        shutdown()
    # Leave without the interpreter's finalization: gloo's and torch's pool threads torn down
    # there can abort the process (SIGABRT, "terminate called without an active exception")
    # after the work is done and its result written.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn(fn: Callable, nprocs: int, *args):
    """Run fn(*args) in `nprocs` new processes on this machine, joined as the ranks of one process
    group (torchrun's environment variables), each with its share of this process's threads;
    returns rank 0's result. A speechlang error on any rank is raised here as the same type."""
    threads = max(1, torch.get_num_threads() // nprocs)
    with tempfile.TemporaryDirectory(prefix="speechlang-mp-") as box:
        try:
            mp.spawn(_run_rank, args=(nprocs, free_port(), threads, fn, args, box), nprocs=nprocs, join=True)
        except Exception as e:
            for f in sorted(Path(box).glob("error*.json")):
                name, msg = json.loads(f.read_text())
                raise getattr(errors, name, errors.SpeechlangError)(msg) from None
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(f"a model-parallel process failed: {first}") from None
        result = Path(box, "result.pickle")
        if not result.is_file():
            raise DataError("the model-parallel processes ended without a result")
        return pickle.loads(result.read_bytes())


def fit_pipeline(
    model: nn.Module,
    loss_sum: Callable,
    batches: Callable[[int, DistEnv], Iterable],
    cfg: TrainConfig,
    *,
    rebuild: Callable[[], nn.Module],
    micro_batches: int = 1,
    evaluate: Callable[[nn.Module], dict] | None = None,
    out_dir: str | os.PathLike | None = None,
    steps_per_epoch: int | None = None,
    model_config: dict | None = None,
    extra: dict | None = None,
) -> TrainResult:
    """Train a Transformer split over the two ranks of a process group; the counterpart of
    `speechlang.accel.fit` (same schedule, clipping, NaN guard, time budget, evaluation, early
    stopping and checkpoint files). Each rank calls it with the same whole model (same seed);
    `rebuild()` makes a fresh whole model for rank 0's evaluation. Metrics add, per stage,
    `stage{r}_param_bytes`, `stage{r}_activation_bytes` (peak) and `stage{r}_peak_bytes`
    (peak RSS on CPU, peak allocated memory on GPU; taken before the epoch's evaluation, so the
    first epoch's is the training alone, later ones may include rank 0's evaluation copy).
    """
    cfg.check()
    keep_freed_memory()
    if cfg.grad_accum != 1:
        raise ConfigError("--grad-accum does not apply to --model-parallel; use --micro-batches")
    if micro_batches < 1:
        raise ConfigError("--micro-batches must be >= 1")
    if getattr(model.config, "moe_experts", 0):
        raise ConfigError("--model-parallel does not support mixture-of-experts layers (--moe-experts)")
    device = resolve_device(cfg.device)
    if device.type == "cuda" and torch.cuda.device_count() < 2:
        raise ConfigError("--model-parallel 2 on GPUs needs two of them (stage r on cuda:r); use --device cpu")
    # evaluation on rank 0 (a whole-model decode) runs while rank 1 waits: allow it time
    env = init_distributed(device, max(cfg.dist_timeout_s, 1800.0))
    if env.world_size != 2:
        raise ConfigError(f"--model-parallel 2 needs exactly 2 processes, not {env.world_size}")
    stage = env.rank
    prec = precision_policy(cfg.precision, device)
    if prec.name == "fp16":
        raise ConfigError("--model-parallel supports --precision fp32 and bf16 (no fp16 loss scaling)")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and stage == 0:
        out.mkdir(parents=True, exist_ok=True)

    split_stage(model, stage).to(device)
    params = list(model.parameters())
    shared = shared_weight(model)
    own = [p for p in params if not (stage == 1 and p is shared)]  # counted once in the global norm
    opt = build_optimizer(params, cfg)
    total = cfg.max_steps or (cfg.epochs * steps_per_epoch if steps_per_epoch else 0)
    sched = LRSchedule(opt, cfg.lr, cfg.schedule, warmup_steps=cfg.warmup_steps, total_steps=total,
                       min_lr_ratio=cfg.min_lr_ratio, factor=cfg.plateau_factor,
                       patience=cfg.plateau_patience, mode=cfg.monitor_mode)
    set_seed(derive_seed(cfg.seed, env.rank, 0x5EED), numba_too=False)  # dropout, sampled softmax
    meter = ActivationMeter(params)
    mem = {"param_bytes": param_bytes(model), "activation_bytes": 0}
    st = {"step": 0, "epoch": 0, "best": None, "best_epoch": -1, "bad_evals": 0, "skipped": 0, "bad_run": 0,
          "history": [], "stopped_early": False}

    def checkpoint(name: str, state: dict) -> None:
        if out is not None and stage == 0:
            save_checkpoint(out / name, {"config": asdict(cfg), "model_config": model_config or {},
                                         "extra": {**(extra or {}), "model_parallel": 2}, "model": state,
                                         "trainer": json.dumps(st)})

    done = False
    deadline = time.perf_counter() + 60 * cfg.max_minutes if cfg.max_minutes > 0 else None
    while st["epoch"] < cfg.epochs and not done:
        epoch = st["epoch"]
        model.train()
        t0 = time.perf_counter()
        loss_acc, items = 0.0, 0
        prog = log.Progress(f"nmt model-parallel epoch {epoch + 1}/{cfg.epochs}", steps_per_epoch, "batches")
        for batch in batches(epoch, DistEnv()):  # every stage takes every batch
            batch = to_device(batch, device)
            loss, ntok = pipeline_step(model, stage, batch, loss_sum, micro_batches=micro_batches,
                                       autocast=prec.autocast, meter=meter)
            mem["activation_bytes"] = max(mem["activation_bytes"], meter.bytes)
            sum_shared_grad(model)
            # one all-reduce per step: squared gradient norm, loss, tokens, and rank 0's clock
            late = float(stage == 0 and deadline is not None and time.perf_counter() > deadline)
            vec = torch.tensor([0.0, loss, late], dtype=torch.float64, device=device)
            for p in own:
                if p.grad is not None:
                    vec[0] += p.grad.double().pow(2).sum()
            dist.all_reduce(vec)
            norm, loss, late = math.sqrt(vec[0].item()), vec[1].item(), vec[2].item() > 0
            if math.isfinite(norm):
                if cfg.clip_norm > 0:
                    coef = min(1.0, cfg.clip_norm / (norm + 1e-6))
                    for p in params:
                        if p.grad is not None:
                            p.grad.mul_(coef)
                opt.step()
                st["step"] += 1
                st["bad_run"] = 0
                sched.set_step(st["step"])
                loss_acc += loss
                items += ntok
            else:
                st["skipped"] += 1
                st["bad_run"] += 1
                log.warn(f"non-finite gradient at epoch {epoch + 1} step {st['step'] + 1}: step skipped")
                if st["bad_run"] >= cfg.max_bad_steps:
                    raise DataError(f"loss or gradients were NaN/inf for {st['bad_run']} steps in a row; "
                                    "lower --lr or clip gradients (--clip-norm)")
            opt.zero_grad(set_to_none=True)
            if prog.enabled:
                prog.update(1, loss=loss / max(ntok, 1), lr=opt.param_groups[0]["lr"],
                            **{"tokens/s": items / max(time.perf_counter() - t0, 1e-9)})
            if (cfg.max_steps and st["step"] >= cfg.max_steps) or late:
                if late:
                    log.info(f"time budget of {cfg.max_minutes:g} min reached in epoch {epoch + 1}")
                done = True
                break
        prog.close()
        if items == 0:
            raise DataError(f"epoch {epoch + 1} had no training batches: is the training data empty?")
        secs = time.perf_counter() - t0
        mem["peak_bytes"] = peak_memory_bytes(device)
        per_stage = [None, None]
        dist.all_gather_object(per_stage, mem)
        rec = {"epoch": epoch + 1, "step": st["step"], "train_loss": loss_acc / items,
               "lr": opt.param_groups[0]["lr"], "items_per_s": items / secs, "epoch_s": secs,
               "skipped_steps": st["skipped"], "micro_batches": micro_batches}
        for r, m in enumerate(per_stage):
            rec.update({f"stage{r}_{k}": v for k, v in m.items()})
        state = gather_model_state(model, stage)
        metrics = None
        if stage == 0 and evaluate is not None:  # a whole model, only while evaluating
            with torch.random.fork_rng(devices=[]):  # its init must not move the dropout stream
                whole = rebuild()
            whole.load_state_dict(state)
            whole.to(device).eval()
            with torch.no_grad(), prec.autocast():
                metrics = {k: float(v) for k, v in evaluate(whole).items()}
            del whole
        box = [metrics]
        dist.broadcast_object_list(box, src=0)
        rec.update(box[0] or {})
        improved = end_epoch(st, rec, cfg, sched, epoch)
        done = done or st["stopped_early"]
        write_epoch(functools.partial(checkpoint, state=state), out, cfg, epoch, improved, stage == 0, st["history"])
    return TrainResult(st["epoch"], st["step"], st["best"], st["best_epoch"], st["stopped_early"],
                       st["skipped"], st["history"])


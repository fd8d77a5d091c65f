"""Machine figures so other numbers can be read against the hardware: `accel info`, `accel bench`,
and the data-parallel scaling of a trainer's model (`accel bench --trainer vision --procs 2`).
"""

from __future__ import annotations

import importlib
import os
import platform
import queue
import socket
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from speechlang import __version__
from speechlang.accel.threads import cpu_count
from speechlang.errors import ConfigError, DataError


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_time(fn, device: torch.device, repeats: int, min_time: float = 0.2) -> float:
    """Best wall time in seconds of `fn()` over repeated runs (after one warm-up call)."""
    fn()
    _sync(device)
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeats or spent < min_time:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        dt = time.perf_counter() - t0
        best, spent, runs = min(best, dt), spent + dt, runs + 1
        if runs >= 50 * repeats:
            break
    return best


def matmul_flops(device: torch.device, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Dense n x n matmul throughput in FLOP/s (2 n^3 per product)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    t = _best_time(lambda: torch.mm(a, b), device, repeats)
    return 2 * n**3 / t


def copy_bandwidth(device: torch.device, mbytes: int = 256, repeats: int = 5) -> float:
    """Memory bandwidth in bytes/s of a device-to-device copy (read + write counted)."""
    n = mbytes * 2**20 // 4
    src = torch.empty(n, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    t = _best_time(lambda: dst.copy_(src), device, repeats)
    return 2 * n * 4 / t


def info() -> dict:
    """Versions, threads and devices of this machine."""
    import numba

    rec = {
        "speechlang": __version__, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": np.__version__, "numba": numba.__version__, "machine": platform.machine(),
        "processor": _cpu_name(), "cpus": cpu_count(), "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(), "cuda": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda, "gpus": [],
    }
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        rec["gpus"].append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                            "capability": f"{p.major}.{p.minor}", "bf16": torch.cuda.is_bf16_supported()})
    return rec


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(device: torch.device, n: int = 2048) -> dict:
    """matmul FLOP/s in fp32 and bf16 and copy bandwidth on `device`."""
    rec = {"device": str(device), "matmul_n": n,
           "fp32_gflops": matmul_flops(device, torch.float32, n) / 1e9,
           "bf16_gflops": matmul_flops(device, torch.bfloat16, n) / 1e9}
    if device.type == "cuda":
        rec["fp16_gflops"] = matmul_flops(device, torch.float16, n) / 1e9
    rec["copy_gbps"] = copy_bandwidth(device) / 1e9
    return rec


# --- data-parallel scaling of a trainer's model -------------------------------------------

# trainer: (model, unit of throughput, default batch per process, what a batch counts)
WORKLOADS = {"vision": ("lenet", "images", 128, "images"), "nmt": ("transformer", "tokens", 32, "sentences"),
             "asr-dnn": ("dnn", "frames", 256, "frames")}
TRAINERS = tuple(WORKLOADS)


@dataclass(frozen=True)
class ScalingConfig:
    """Options of `accel bench --trainer`: synthetic batches for one trainer's model, trained
    through `fit` by 1 process and by `procs` processes (DDP, started on this machine)."""

    trainer: str
    procs: int = 2            # processes of the data-parallel run, compared with one
    steps: int = 20           # timed optimizer steps per process (after as many warm-up steps)
    batch_size: int = 0       # per process: images, sentences (of 24 subwords) or frames (0: the default)
    threads: int = 1          # torch threads per process, the same in both runs
    device: str = "cpu"       # cpu, or cuda (one GPU per process)
    precision: str = "fp32"
    seed: int = 1

    def check(self) -> None:
        if self.trainer not in TRAINERS:
            raise ConfigError(f"--trainer {self.trainer!r} is not one of {', '.join(TRAINERS)}")
        if self.procs < 1 or self.steps < 1 or self.batch_size < 0 or self.threads < 1:
            raise ConfigError("--procs, --steps and --threads must be >= 1, --batch-size >= 0")
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"--trainer runs on cpu or cuda, not {self.device}")
        if self.device == "cuda" and self.procs > torch.cuda.device_count():
            raise ConfigError(f"--procs {self.procs} needs as many GPUs; {torch.cuda.device_count()} visible")


def _workload(trainer: str):
    """(model, loss_fn(net, batch) -> (loss, items), make_batch(generator, batch size))."""
    if trainer == "vision":  # LeNet on 28x28 grey images, 10 classes (Fashion-MNIST's shape)
        from speechlang.vision.registry import build_model

        model = build_model("lenet", in_channels=1, num_classes=10, image_size=(28, 28))

        def make_batch(g, b):
            return torch.randn(b, 1, 28, 28, generator=g), torch.randint(0, 10, (b,), generator=g)

        def loss_fn(net, batch):
            return F.cross_entropy(net(batch[0]).float(), batch[1]), len(batch[1])

        return model, loss_fn, make_batch
    if trainer == "nmt":  # a small Transformer on sentences of 24 subwords, vocabulary 2000
        from speechlang.nmt.registry import build_model, model_config
        from speechlang.nmt.subword import BOS, EOS
        from speechlang.nmt.train import nmt_loss

        v, t = 2000, 24
        model = build_model("transformer", model_config("transformer", dict(
            src_vocab=v, tgt_vocab=v, embed_dim=128, ff_dim=512, heads=4, enc_layers=2, dec_layers=2)))

        def make_batch(g, b):
            src, tgt = torch.randint(EOS + 1, v, (b, t), generator=g), torch.randint(EOS + 1, v, (b, t), generator=g)
            src[:, -1] = EOS
            bos, eos = torch.full((b, 1), BOS), torch.full((b, 1), EOS)
            return src, torch.cat([bos, tgt], 1), torch.cat([tgt, eos], 1)

        return model, lambda net, batch: nmt_loss(net, batch, 0.1), make_batch
    from speechlang.asr.dnn import SplicedNet  # train-dnn's default net: 40-dim features, +-5 frames

    model = SplicedNet("dnn", input_dim=40, context=5, hidden=512, layers=3, num_pdfs=500)

    def make_batch(g, b):
        return torch.randn(b, 11, 40, generator=g), torch.randint(0, 500, (b,), generator=g)

    def loss_fn(net, batch):
        return F.cross_entropy(net(batch[0])[:, 0].float(), batch[1]), len(batch[1])

    return model, loss_fn, make_batch


def _scaling_worker(rank: int, procs: int, port: int, cfg: ScalingConfig, results) -> None:
    """One rank: train the workload for 2 epochs of `steps` batches; epoch 1 warms up."""
    from speechlang import log
    from speechlang.accel.distributed import shutdown
    from speechlang.accel.loop import TrainConfig, fit
    from speechlang.accel.seed import derive_seed

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(procs),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(cfg.threads)
    log.set_quiet(True)
    try:
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        model, loss_fn, make_batch = _workload(cfg.trainer)
        _, unit, default_bs, _ = WORKLOADS[cfg.trainer]
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, rank))
        pool = [make_batch(g, cfg.batch_size or default_bs) for _ in range(4)]  # reused: no data loading

        def batches(epoch, env):
            return (pool[i % len(pool)] for i in range(cfg.steps))

        tcfg = TrainConfig(epochs=2, lr=1e-3, device=cfg.device, precision=cfg.precision, seed=cfg.seed,
                           dist_timeout_s=300, rdzv_timeout_s=60)
        res = fit(model, loss_fn, batches, tcfg, steps_per_epoch=cfg.steps, desc="bench", unit=unit)
        last = res.history[-1]
        items = sum(pool[i % len(pool)][-1].numel() for i in range(cfg.steps))  # targets: one per item
        results.put({"rank": rank, "items": items, "seconds": last["epoch_s"],
                     "items_per_s_all_ranks": last["items_per_s"]})
    except BaseException as e:  # reported by the parent
        results.put({"rank": rank, "error": f"{type(e).__name__}: {e}"})
    finally:
        shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# imported once before the ranks start, not by each of them (torch._dynamo alone takes seconds)
PRELOAD = ("torch._dynamo", "speechlang.vision.models", "speechlang.nmt.train", "speechlang.asr.dnn")


def _run_ranks(cfg: ScalingConfig, procs: int, timeout_s: float = 900.0) -> list[dict]:
    """Start `procs` ranks (gloo on CPU, NCCL on GPUs); their records sorted by rank. On the CPU
    the ranks are forked (this process has run no parallel torch work yet), on GPUs spawned."""
    for name in PRELOAD:
        importlib.import_module(name)
    ctx = torch.multiprocessing.get_context("spawn" if cfg.device == "cuda" else "fork")
    results = ctx.Queue()
    port = _free_port()
    ps = [ctx.Process(target=_scaling_worker, args=(r, procs, port, cfg, results), daemon=True)
          for r in range(procs)]
    for p in ps:
        p.start()
    recs, deadline = [], time.monotonic() + timeout_s
    while len(recs) < procs and time.monotonic() < deadline:
        try:
            recs.append(results.get(timeout=1.0))
        except queue.Empty:
            if not any(p.is_alive() for p in ps):
                break
    for p in ps:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    failed = [r for r in recs if "error" in r]
    if failed:
        raise DataError(f"accel bench: rank {failed[0]['rank']} of {procs} failed: {failed[0]['error']}")
    if len(recs) < procs:
        raise DataError(f"accel bench: {procs - len(recs)} of {procs} ranks ended without a result "
                        f"(exit codes {[p.exitcode for p in ps]})")
    return sorted(recs, key=lambda r: r["rank"])


def scaling(cfg: ScalingConfig) -> dict:
    """Training throughput (items/s over all ranks) at 1 and `procs` processes, and the scaling
    efficiency throughput_N / (N * throughput_1): 1.0 is perfect, lower is communication and
    contention. Each process trains `batch_size` items per step (weak scaling)."""
    from speechlang.accel.distributed import env_from_torchrun

    cfg.check()
    if env_from_torchrun().distributed:
        raise ConfigError("accel bench --trainer starts its own processes; run it without torchrun")
    name, unit, default_bs, batch_unit = WORKLOADS[cfg.trainer]
    runs = {}
    for n in sorted({1, cfg.procs}):
        ranks = _run_ranks(cfg, n)
        runs[n] = {"ranks": ranks, "throughput": sum(r["items"] for r in ranks) / max(r["seconds"] for r in ranks)}
    t1, tn = runs[1]["throughput"], runs[cfg.procs]["throughput"]
    return {"trainer": cfg.trainer, "model": name, "unit": unit, "device": cfg.device,
            "precision": cfg.precision, "procs": cfg.procs, "threads_per_proc": cfg.threads,
            "batch_per_proc": cfg.batch_size or default_bs, "batch_unit": batch_unit, "steps": cfg.steps,
            "throughput_1": t1, "throughput_n": tn, "speedup": tn / t1, "efficiency": tn / (cfg.procs * t1),
            "ranks": runs[cfg.procs]["ranks"]}

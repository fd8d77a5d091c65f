"""`speechlang accel`: the shared CPU/GPU layer: machine info, speed figures, loop check."""

from __future__ import annotations

from typing import Annotated

import typer

from speechlang.accel import TrainConfig, resolve_device, set_threads
from speechlang.accel import bench as benchmod
from speechlang.accel.check import run_check
from speechlang.accel.threads import cpu_count
from speechlang.cli import GROUPS
from speechlang.cli._util import (
    Device,
    Json,
    Precision,
    Seed,
    emit_json,
    is_main_process,
    make_app,
)

app = make_app(GROUPS["accel"].help)


@app.command()
def info(json_out: Json = False) -> None:
    """Versions, CPU threads, numba and CUDA devices.

    \b
    Example: speechlang accel info --json
    """
    rec = benchmod.info()
    if json_out:
        emit_json(rec)
        return
    for k, v in rec.items():
        if k == "gpus":
            for g in v:
                print(f"gpu{g['index']}\t{g['name']}, {g['memory_gib']} GiB, sm {g['capability']}")
        else:
            print(f"{k}\t{v}")


@app.command()
def bench(
    device: Device = "auto",
    size: Annotated[int, typer.Option("--size", min=64, help="matrix size n for the n x n matmul")] = 2048,
    trainer: Annotated[str | None, typer.Option("--trainer", help=(
        f"instead: data-parallel scaling of a trainer's model ({', '.join(benchmod.TRAINERS)})"))] = None,
    procs: Annotated[int, typer.Option("--procs", min=1, help="--trainer: processes compared with one")] = 2,
    steps: Annotated[int, typer.Option("--steps", min=1, help="--trainer: timed steps per process")] = 20,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=0, help="--trainer: items per step per process (0: the workload's default)")] = 0,
    precision: Precision = "fp32",
    threads: Annotated[int, typer.Option(
        "--threads", min=0, help="CPU threads (0: all; with --trainer, per process: CPUs / procs)")] = 0,
    seed: Seed = 1,
    json_out: Json = False,
) -> None:
    """Matmul FLOP/s (fp32, bf16) and copy bandwidth on the device, side by side; or, with
    --trainer, training throughput of that trainer's model at 1 and --procs processes (DDP over
    gloo or NCCL, spawned here) and the scaling efficiency throughput_N / (N x throughput_1).

    \b
    Example: speechlang accel bench --device cuda --size 8192
          speechlang accel bench --trainer vision --procs 2 --device cpu --json
    """
    if trainer is not None:
        dev = resolve_device(device)
        cfg = benchmod.ScalingConfig(trainer=trainer, procs=procs, steps=steps, batch_size=batch_size,
                                     threads=threads or max(1, cpu_count() // procs), device=dev.type,
                                     precision=precision, seed=seed)
        rec = benchmod.scaling(cfg)
        if json_out:
            emit_json(rec)
            return
        unit = f"{rec['unit']}/s"
        print(f"trainer\t{rec['trainer']} ({rec['model']}, {rec['batch_per_proc']} {rec['batch_unit']} per step "
              "and process)")
        print(f"throughput_1\t{rec['throughput_1']:.1f} {unit}")
        print(f"throughput_{procs}\t{rec['throughput_n']:.1f} {unit}")
        print(f"speedup\t{rec['speedup']:.3f}")
        print(f"efficiency\t{rec['efficiency']:.3f}")
        return
    set_threads(threads)
    rec = benchmod.bench(resolve_device(device), size)
    if json_out:
        emit_json(rec)
        return
    for k, v in rec.items():
        print(f"{k}\t{v:.1f}" if isinstance(v, float) else f"{k}\t{v}")


@app.command()
def check(
    device: Device = "auto",
    precision: Precision = "fp32",
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 20,
    lr: Annotated[float, typer.Option("--lr", min=0)] = 0.01,
    seed: Seed = 1,
    output: Annotated[str | None, typer.Option("--output-dir", "-o", help="checkpoint directory")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from OUTPUT_DIR/checkpoint_last.pt")] = False,
    json_out: Json = False,
) -> None:
    """Train a small MLP on two spirals through the shared training loop (runs under torchrun too).

    \b
    Example: speechlang accel check --epochs 20 --output-dir exp/check
    """
    cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, device=device, precision=precision,
                      schedule="cosine", warmup_steps=20)
    rec = run_check(cfg, output, resume=resume)
    if json_out:
        emit_json(rec)
    elif is_main_process():
        print(f"loss {rec['first_loss']:.4f} -> {rec['last_loss']:.4f}, held-out accuracy {rec['val_acc']:.1f}%")

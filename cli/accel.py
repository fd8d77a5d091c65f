"""`speechlang accel`: the shared CPU/GPU layer: machine info, speed figures, loop check."""

from __future__ import annotations

from typing import Annotated

import typer

from speechlang.accel import TrainConfig, resolve_device, set_threads
from speechlang.accel import bench as benchmod
from speechlang.accel.check import run_check
from speechlang.cli._util import (
    Device,
    Json,
    Precision,
    Seed,
    Threads,
    emit_json,
    is_main_process,
    make_app,
)

app = make_app("The shared CPU/GPU layer: devices, threads, speed figures, training-loop check.")


@app.command()
def info(json_out: Json = False) -> None:
    """Versions, CPU threads, numba and CUDA devices.

    e.g.: speechlang accel info --json
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
    threads: Threads = 0,
    json_out: Json = False,
) -> None:
    """Matmul FLOP/s (fp32, bf16) and copy bandwidth on the device, side by side.

    e.g.: speechlang accel bench --device cuda --size 8192
    """
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

    e.g.: speechlang accel check --epochs 20 --output-dir exp/check
    """
    cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, device=device, precision=precision,
                      schedule="cosine", warmup_steps=20)
    rec = run_check(cfg, output, resume=resume)
    if json_out:
        emit_json(rec)
    elif is_main_process():
        print(f"loss {rec['first_loss']:.4f} -> {rec['last_loss']:.4f}, held-out accuracy {rec['val_acc']:.1f}%")

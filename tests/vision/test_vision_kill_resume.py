"""`vision train` killed with SIGKILL at a random point and continued with --resume ends with the
same weights, optimizer state and history as an uninterrupted run, bit for bit (CPU, one thread)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from speechlang.accel import load_checkpoint
from speechlang.vision.idx import write_idx

EPOCHS = 8
# dropout and random shifts: the resumed run must also restore every random number generator
ARGS = ["--arch", "lenet", "--model-opt", "channels=4,8", "--model-opt", "hidden=16", "--model-opt", "dropout=0.3",
        "--translate", "1", "--batch-size", "16", "--lr", "0.05", "--warmup-steps", "5", "--valid", "32",
        "--epochs", str(EPOCHS), "--device", "cpu", "--threads", "1", "--seed", "3"]
EPOCH_LINE = re.compile(r"^speechlang: epoch (\d+) step")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    write_idx(d / "train-images-idx3-ubyte", rng.integers(0, 256, (160, 10, 10), dtype=np.uint8))
    write_idx(d / "train-labels-idx1-ubyte", rng.integers(0, 3, 160, dtype=np.uint8))
    return d / "train-images-idx3-ubyte"


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    from speechlang.cli.main import app

    out = tmp_path_factory.mktemp("full") / "run"
    n = torch.get_num_threads()
    try:
        app(["--quiet", "vision", "train", "--train", str(data), "-o", str(out), *ARGS], standalone_mode=False)
    finally:
        torch.set_num_threads(n)
    return out


def _kill_after(cmd: list[str], epochs_done: int, fraction: float) -> None:
    """Run `cmd` and SIGKILL it `fraction` of an epoch after its `epochs_done`-th epoch line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen, last = 0, None
    try:
        for line in proc.stderr:
            if EPOCH_LINE.match(line):
                seen += 1
                now = time.perf_counter()
                epoch_s, last = (now - last if last else 0.0), now
                if seen == epochs_done:
                    time.sleep(fraction * epoch_s)  # somewhere inside the next epoch
                    proc.send_signal(signal.SIGKILL)
                    break
    finally:
        proc.stderr.close()
        code = proc.wait(timeout=300)
    assert code == -signal.SIGKILL, f"the run ended by itself (exit {code}) before it was killed"


def _epoch(ckpt: dict) -> int:
    return json.loads(ckpt["trainer"])["epoch"]


def _history(run) -> list[dict]:
    timing = ("items_per_s", "epoch_s")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in timing} for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_sigkill_then_resume_gives_the_same_model(cli, data, uninterrupted, tmp_path, seed):
    rng = random.Random(seed)  # where the kill lands: in epoch 3..6, at a random point of it
    epochs_done, fraction = rng.randint(2, EPOCHS - 3), rng.random()
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "speechlang.cli.main", "vision", "train", "--train", str(data), "-o", str(run), *ARGS]
    _kill_after(cmd, epochs_done, fraction)
    assert (run / "checkpoint_last.pt").is_file()
    killed_at = _epoch(load_checkpoint(run / "checkpoint_last.pt"))
    assert 1 <= killed_at < EPOCHS  # (the kill may land after the next checkpoint too)

    r = cli("--quiet", "vision", "train", "--train", data, "-o", run, *ARGS, "--resume")
    assert r.exit_code == 0, r.stderr
    full, resumed = load_checkpoint(uninterrupted / "checkpoint_last.pt"), load_checkpoint(run / "checkpoint_last.pt")
    assert _epoch(resumed) == _epoch(full) == EPOCHS
    assert full["model"].keys() == resumed["model"].keys()
    for k, w in full["model"].items():
        assert torch.equal(w, resumed["model"][k]), k
    for a, b in zip(full["optimizer"]["state"].values(), resumed["optimizer"]["state"].values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert _history(run) == _history(uninterrupted)


"""Faults under torch.distributed: a rank that dies makes the others stop with one line naming
their rank, and an unreachable rendezvous address fails within its timeout, naming it."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import sys
import time

import pytest
import torch

from speechlang.accel.distributed import init_distributed
from speechlang.errors import DataError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_rank(rank: int, port: int, args: list[str], err_path: str) -> None:
    """`speechlang ARGS` as rank `rank` of 2 (as torchrun would start it), stderr to a file."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the process ends with the command
    sys.stderr = open(err_path, "w", buffering=1)  # noqa: SIM115
    from speechlang.cli.main import app

    app(args, prog_name="speechlang", standalone_mode=True)


def test_a_rank_that_dies_stops_the_others_with_one_line(tmp_path):
    import torch._dynamo  # noqa: F401 - imported once here rather than in each forked rank

    out = tmp_path / "check"
    args = ["--quiet", "accel", "check", "--epochs", "10000", "--device", "cpu", "--output-dir", str(out)]
    ctx = mp.get_context("fork")
    port = free_port()
    ranks = [ctx.Process(target=run_rank, args=(r, port, args, str(tmp_path / f"rank{r}.err"))) for r in (0, 1)]
    for p in ranks:
        p.start()
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint_last.pt").exists():  # rank 0 writes it after each epoch
            assert time.monotonic() < deadline and ranks[0].is_alive(), (tmp_path / "rank0.err").read_text()
            time.sleep(0.05)
        os.kill(ranks[1].pid, signal.SIGKILL)
        t0 = time.monotonic()
        ranks[0].join(30)
        waited = time.monotonic() - t0
    finally:
        for p in ranks:
            if p.is_alive():
                p.kill()
    assert ranks[0].exitcode == 1 and waited < 10
    lines = (tmp_path / "rank0.err").read_text().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("speechlang: error: rank 0 of 2: a collective operation failed")


@pytest.mark.parametrize("addr,rank", [("127.0.0.1", 1), ("127.0.0.1", 0), ("no-such-host.invalid", 1)])
def test_an_unreachable_rendezvous_fails_fast_naming_the_address(monkeypatch, capfd, addr, rank):
    port = free_port()  # nothing listens there: as a wrong --rdzv-endpoint port
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", "2")  # rank 0 waits for a second rank that never comes
    monkeypatch.setenv("MASTER_ADDR", addr)
    monkeypatch.setenv("MASTER_PORT", str(port))
    t0 = time.monotonic()
    with pytest.raises(DataError, match=f"rank {rank}: cannot join the process group at {addr}:{port} "):
        init_distributed(torch.device("cpu"), rdzv_timeout_s=1.0)
    assert time.monotonic() - t0 < 8
    assert not torch.distributed.is_initialized()
    assert "frame #" not in capfd.readouterr().err  # torch's own connection logs are kept off stderr

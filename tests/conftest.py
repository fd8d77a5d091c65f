"""Shared test helpers: run the CLI in-process and capture stdout, stderr and the exit code."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest
import torch

from speechlang import log
from speechlang.cli._util import set_debug

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch):
    """cli(*args, input=str|bytes|None) -> CliResult; runs `speechlang ARGS` in this process."""
    from speechlang.cli.main import app

    def run(*args, input: str | bytes | None = None) -> CliResult:
        data = input.encode() if isinstance(input, str) else (input or b"")
        out, err = io.BytesIO(), io.BytesIO()
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stderr)
        code = 0
        try:
            app([str(a) for a in args], prog_name="speechlang", standalone_mode=True)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            stdout.flush()
            stderr.flush()
            monkeypatch.undo()
            log.set_quiet(False)
            set_debug(False)
        return CliResult(code, out.getvalue().decode("utf-8", "replace"),
                         err.getvalue().decode("utf-8", "replace"))

    return run

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


@pytest.fixture(scope="session")
def run_ok():
    """run_ok(*args): runs `speechlang --quiet ARGS` in this process (for module fixtures, whose
    output is not captured) and fails the test on a non-zero exit."""
    from speechlang.cli.main import app

    def run(*args) -> None:
        try:
            app(["--quiet", *map(str, args)], prog_name="speechlang", standalone_mode=True)
        except SystemExit as e:
            assert not e.code, f"speechlang {' '.join(map(str, args))} exited {e.code}"
        finally:
            log.set_quiet(False)

    return run


@pytest.fixture(scope="session")
def leaf_commands() -> dict[str, object]:
    """Every runnable command of the tree, as {"group sub": click command} (groups imported)."""
    import typer

    from speechlang.cli.main import app

    root = typer.main.get_command(app)
    ctx_cls = type(root.make_context("speechlang", ["--help"], resilient_parsing=True))
    found: dict[str, object] = {}

    def walk(cmd, path: list[str], parent) -> None:
        if not hasattr(cmd, "list_commands"):
            found[" ".join(path)] = cmd
            return
        ctx = ctx_cls(cmd, info_name=path[-1] if path else "speechlang", parent=parent)
        for name in cmd.list_commands(ctx):
            walk(cmd.get_command(ctx, name), [*path, name], ctx)

    walk(root, [], None)
    return found


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

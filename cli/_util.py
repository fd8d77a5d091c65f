"""Pieces shared by the command modules: app factory, common options, error mapping."""

from __future__ import annotations

import errno
import json
import os
import sys
import traceback
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from speechlang.errors import SpeechlangError

_state = {"debug": False}


def set_debug(debug: bool) -> None:
    _state["debug"] = bool(debug)


def _fail(msg: str) -> typer.Exit:
    print(f"speechlang: error: {msg}", file=sys.stderr, flush=True)
    return typer.Exit(1)


class RootGroup(TyperGroup):
    """Turns library errors into one stderr line and exit 1 (a traceback only with --debug)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SpeechlangError as e:
            if _state["debug"]:
                traceback.print_exc()
            raise _fail(str(e)) from None
        except BrokenPipeError:
            # the reader went away (`speechlang ... | head`): stop quietly, like other Unix tools
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - silence the final flush
            raise typer.Exit(141) from None
        except OSError as e:
            if _state["debug"]:
                traceback.print_exc()
            where = f" {e.filename}" if e.filename else ""
            reason = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            raise _fail(f"cannot use{where}: {reason}") from None
        except MemoryError:
            raise _fail("out of memory; use a smaller --memory, --batch-size or input") from None
        except (typer.Exit, typer.Abort, ClickException, KeyboardInterrupt) as e:
            if isinstance(e, KeyboardInterrupt):
                raise typer.Exit(130) from None
            raise
        except Exception as e:
            if _state["debug"]:
                raise
            raise _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the "
                        "traceback and report it)") from None


def make_app(help: str, **kwargs) -> typer.Typer:
    """A command group with speechlang's settings: plain help and errors, no rich tracebacks."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None,
                       pretty_exceptions_enable=False, add_completion=False, **kwargs)


def is_main_process() -> bool:
    """False on every torchrun rank but 0: only rank 0 writes results to stdout."""
    return os.environ.get("RANK", "0") == "0"


def emit_json(record: dict[str, Any]) -> None:
    """One machine-readable JSON record on stdout (for --json), from rank 0 only."""
    if is_main_process():
        print(json.dumps(record, sort_keys=True), flush=True)


# Options shared across groups, so every command spells them the same way.
Input = Annotated[str, typer.Option("--input", "-i", help="input file ('-' = stdin)")]
Output = Annotated[str, typer.Option("--output", "-O", help="output file ('-' = stdout)")]
Seed = Annotated[int, typer.Option("--seed", help="random seed (runs with one seed and one thread repeat exactly)")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps")]
Json = Annotated[bool, typer.Option("--json", help="print one JSON record on stdout")]
Threads = Annotated[int, typer.Option("--threads", min=0, help="CPU threads (0: all)")]
Precision = Annotated[str, typer.Option("--precision", help="fp32, bf16 or fp16 (loss scaling)")]
Hogwild = Annotated[int, typer.Option(
    "--hogwild", min=0, help="N lock-free CPU worker processes sharing the parameters (0: off; not with torchrun)")]

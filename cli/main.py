"""`speechlang`: the root command; each field is a command group in its own module.

Groups are imported when first used, so `speechlang ngram ...` does not pay for torch or
the other groups at start-up; `--help` imports them all to list them.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from speechlang import __version__, log
from speechlang.cli._util import RootGroup, set_debug

# name -> module holding that group's `app` (a typer.Typer), in the order shown by --help
GROUPS = {
    "ngram": "speechlang.cli.ngram",
    "w2v": "speechlang.cli.w2v",
    "asr": "speechlang.cli.asr",
    "nmt": "speechlang.cli.nmt",
    "vision": "speechlang.cli.vision",
    "accel": "speechlang.cli.accel",
    "report": "speechlang.cli.report",
}


class LazyRoot(RootGroup):
    """The root group: resolves each group's Typer app on demand."""

    def list_commands(self, ctx):
        return list(GROUPS)

    def get_command(self, ctx, name):
        if name not in GROUPS:
            return None
        cmd = typer.main.get_command(importlib.import_module(GROUPS[name]).app)
        cmd.name = name
        return cmd


app = typer.Typer(
    name="speechlang", cls=LazyRoot, no_args_is_help=True, rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="NLP and speech toolkit: n-gram LMs, word2vec, GMM/DNN-HMM ASR, NMT and CNN vision.\n\n"
         "Data goes to stdout, messages to stderr; `-` means stdin/stdout.",
)


def _version(value: bool) -> None:
    if value:
        print(f"speechlang {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print the version and exit")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks on errors")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress or info messages")] = False,
) -> None:
    """Options here go before the group: `speechlang --quiet ngram train ...`."""
    set_debug(debug)
    log.set_quiet(quiet)


def main() -> None:
    """Console entry point."""
    app(prog_name="speechlang")


if __name__ == "__main__":
    main()

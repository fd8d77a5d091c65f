"""`speechlang`: the root command; each field is a command group in its own module.

Groups are imported when first used, so `speechlang ngram ...` does not pay for torch or
the other groups at start-up, and `speechlang --help` lists them from the GROUPS table.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from speechlang import __version__, log
from speechlang.cli import GROUPS
from speechlang.cli._util import RootGroup, set_debug


class LazyRoot(RootGroup):
    """The root group: resolves each group's Typer app on demand; its help lists the groups
    from the GROUPS table without importing them."""

    def list_commands(self, ctx):
        return list(GROUPS)

    def get_command(self, ctx, name):
        if name not in GROUPS:
            return None
        cmd = typer.main.get_command(importlib.import_module(GROUPS[name].module).app)
        cmd.name = name
        return cmd

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, g.help) for name, g in GROUPS.items()])


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

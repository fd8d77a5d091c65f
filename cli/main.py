"""`speechlang`: the root command; each field is a group added with `app.add_typer`."""

from __future__ import annotations

from typing import Annotated

import typer

from speechlang import __version__, log
from speechlang.cli import accel, asr, ngram, nmt, vision, w2v
from speechlang.cli._util import RootGroup, set_debug

app = typer.Typer(
    name="speechlang", cls=RootGroup, no_args_is_help=True, rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="NLP and speech toolkit: n-gram LMs, word2vec, GMM/DNN-HMM ASR, NMT and CNN vision.\n\n"
         "Data goes to stdout, messages to stderr; `-` means stdin/stdout.",
)
app.add_typer(ngram.app, name="ngram")
app.add_typer(w2v.app, name="w2v")
app.add_typer(asr.app, name="asr")
app.add_typer(nmt.app, name="nmt")
app.add_typer(vision.app, name="vision")
app.add_typer(accel.app, name="accel")


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

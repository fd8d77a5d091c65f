"""`speechlang report`: the metrics of an experiment folder as one markdown table, curves as a PNG."""

from __future__ import annotations

from typing import Annotated

import typer

from speechlang import log
from speechlang.cli import GROUPS
from speechlang.cli._util import make_app

app = make_app(GROUPS["report"].help)


@app.command()
def report(
    exp_dir: Annotated[str, typer.Argument(help="experiment folder (searched recursively)")],
    output: Annotated[str, typer.Option("--output", "-O", "-o", help="markdown file ('-' = stdout)")] = "-",
    png: Annotated[str | None, typer.Option("--png", help="also draw the curves of every metrics.jsonl "
                                            "into this PNG")] = None,
) -> None:
    """Collect every `*.json` metric record under EXP_DIR into one markdown table (stdout or -O)
    and, with --png, draw the loss and validation curves of every metrics.jsonl.

    \b
    Example: speechlang report exp/ -O exp/report.md --png exp/curves.png
    """
    from speechlang.report import write_report

    rec = write_report(exp_dir, output, png)
    log.info(f"{rec['metrics']} metrics from {rec['records']} records"
             + (f"; {rec['panels']} curve panels in {png}" if png else ""))

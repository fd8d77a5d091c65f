"""`speechlang ngram ...` with only the ngram group loaded (the root CLI imports every group,
torch included, which costs seconds of start-up); used by bench/ngram.sh to time the engine.

    .venv/bin/python bench/ngram_cli.py train -o 3 < corpus.txt > lm.arpa
"""

import typer

from speechlang.cli import ngram
from speechlang.cli._util import RootGroup

app = typer.Typer(cls=RootGroup, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(ngram.app, name="ngram")

if __name__ == "__main__":
    import sys

    app(["ngram", *sys.argv[1:]], prog_name="speechlang")

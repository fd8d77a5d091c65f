"""The `speechlang` command line (installed as `speechlang.cli`): one Typer app per group."""

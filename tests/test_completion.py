"""Shell completion: the root command prints and installs completion scripts, and the lazily
imported groups still complete their subcommand and option names."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_shell_detection(monkeypatch):
    """Name the shell on the command line instead of detecting the parent shell (Typer's switch)."""
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")


def test_root_help_offers_completion(cli):
    r = cli("--help")
    assert r.exit_code == 0
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "complete -o default -F _speechlang_completion speechlang"),
    ("zsh", "#compdef speechlang"),
    ("fish", "complete --command speechlang"),
])
def test_show_completion_prints_a_script(cli, no_shell_detection, shell, marker):
    r = cli("--show-completion", shell)
    assert r.exit_code == 0, r.stderr
    assert marker in r.stdout
    assert f"_SPEECHLANG_COMPLETE=complete_{shell}" in r.stdout


def test_install_completion_writes_the_script(cli, no_shell_detection, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    r = cli("--install-completion", "bash")
    assert r.exit_code == 0, r.stderr
    script = (tmp_path / ".bash_completions" / "speechlang.sh").read_text()
    assert "_SPEECHLANG_COMPLETE=complete_bash" in script
    assert "speechlang.sh" in (tmp_path / ".bashrc").read_text()


def _complete(cli, monkeypatch, line: str) -> list[str]:
    """What bash completion offers for the last word of `line` (as the installed script asks)."""
    words = line.split(" ")
    monkeypatch.setenv("_SPEECHLANG_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    r = cli()
    assert r.exit_code == 0, r.stderr
    return r.stdout.split()


@pytest.mark.parametrize(("line", "expected"), [
    ("speechlang ", ["ngram", "w2v", "asr", "nmt", "vision", "accel"]),
    ("speechlang ng", ["ngram"]),
    ("speechlang ngram ", ["count", "train", "eval", "score", "query", "sample", "prune", "mix"]),
    ("speechlang asr train-", ["train-mono", "train-tri", "train-dnn"]),
    ("speechlang vision compress ", ["prune", "quantize", "distill"]),
    ("speechlang ngram train --smoo", ["--smoothing"]),
    ("speechlang w2v train --lo", ["--loss"]),
])
def test_lazy_groups_complete_names(cli, monkeypatch, line, expected):
    got = _complete(cli, monkeypatch, line)
    assert set(expected) <= set(got), got
    prefix = line.split(" ")[-1]
    assert all(w.startswith(prefix) for w in got)

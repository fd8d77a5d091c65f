"""The root command: help at every level, version, and the one error convention."""

import ast
import importlib
import subprocess
import sys

import pytest

GROUPS = ["ngram", "w2v", "asr", "nmt", "vision", "accel", "report"]


def test_root_help_lists_every_group(cli):
    r = cli("--help")
    assert r.exit_code == 0
    listed = r.stdout.split("Commands:")[1]
    for g in GROUPS:
        assert f"\n  {g} " in listed
    from speechlang.cli import GROUPS as table

    assert list(table) == GROUPS


@pytest.mark.parametrize("group", GROUPS)
def test_group_help_is_its_root_line(group):
    from speechlang.cli import GROUPS as table

    app = importlib.import_module(table[group].module).app
    assert app.info.help == table[group].help


def _modules_after(*argv: str) -> tuple[str, list[str]]:
    """Run `speechlang ARGV` in a fresh interpreter: (its output, the torch and speechlang.cli
    modules it imported)."""
    code = (f"import sys\nfrom speechlang.cli.main import main\nsys.argv = ['speechlang', *{list(argv)!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('speechlang.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    *text, modules = out.strip().splitlines()
    return "\n".join(text), ast.literal_eval(modules)


def test_root_help_imports_no_group():
    """`speechlang --help` lists the groups without importing them (nor torch)."""
    text, modules = _modules_after("--help")
    assert "nmt  " in text and modules == ["speechlang.cli._util", "speechlang.cli.main"]


@pytest.mark.parametrize("argv", [("ngram", "--help"), ("w2v", "--help"), ("asr", "--help"),
                                  ("nmt", "--help"), ("nmt", "train", "--help"), ("nmt", "prepare", "--help"),
                                  ("nmt", "score", "--help")])
def test_help_of_commands_without_torch_imports_no_torch(argv):
    """The help of these groups and commands starts without torch (about 1 s here), and so do
    the commands that need no network; the nmt architectures are listed from a table, not the
    registry."""
    text, modules = _modules_after(*argv)
    assert f"speechlang {' '.join(argv[:-1])}" in text and "torch" not in modules
    if argv[-2] == "train":
        assert "lstm-attention, transformer" in text


@pytest.mark.parametrize("group", GROUPS)
def test_group_help(cli, group):
    r = cli(group, "--help")
    assert r.exit_code == 0
    assert f"speechlang {group}" in r.stdout


def test_version(cli):
    from speechlang import __version__

    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"speechlang {__version__}"


def test_usage_error_exits_2(cli):
    r = cli("accel", "no-such-command")
    assert r.exit_code == 2
    assert "No such command" in r.stderr


def test_library_error_is_one_line_and_exit_1(cli):
    r = cli("accel", "check", "--device", "tpu")
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and lines[0].startswith("speechlang: error: --device 'tpu'")
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_debug_shows_traceback(cli):
    r = cli("--debug", "accel", "check", "--device", "tpu")
    assert r.exit_code == 1
    assert "Traceback" in r.stderr and "ConfigError" in r.stderr


def test_every_command_help_has_an_example(cli, leaf_commands):
    assert len(leaf_commands) > 30
    for name in leaf_commands:
        r = cli(*name.split(), "--help")
        assert r.exit_code == 0, (name, r.stderr)
        lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("Example:")]
        assert lines, f"`speechlang {name} --help` has no Example: line"
        assert all(f"speechlang {name} " in ln + " " for ln in lines), (name, lines)  # examples of this command


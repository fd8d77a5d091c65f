"""Every command on bad input and unwritable output: exit 1, one `speechlang: error:` line
naming the file, and no output (nor a temporary file) left behind.

Each command is written once as an argument template: `{asset}` is an input (one at a time it
is replaced by an empty, a missing or an unreadable one, the others stay valid) and `{out:KIND}`
an output (file, an atomically built dir, or a run dir created with its parents). Valid inputs
are made once, small, by the commands themselves.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

FIX = Path(__file__).resolve().parent / "fixtures"
TONES = FIX / "asr" / "tones"


def _permissions_bind() -> bool:
    """False for root (with CAP_DAC_OVERRIDE), who can read a file of mode 000."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "probe"
        p.write_text("x")
        p.chmod(0)
        try:
            p.read_text()
        except PermissionError:
            return True
        finally:
            p.chmod(0o600)
    return False


as_user = pytest.mark.skipif(not _permissions_bind(), reason="file permissions do not bind this user (root)")

TINY_VISION = ["--arch", "lenet", "--model-opt", "channels=2,2", "--model-opt", "hidden=4", "--batch-size", "32",
               "--valid", "0", "--warmup-steps", "0", "--device", "cpu", "--threads", "1"]

# command -> argument template; "{name}" is an input asset, "{out:file|dir|rundir}" an output
COMMANDS: dict[str, list[str]] = {
    "ngram count": ["-o", "2", "-i", "{text}", "-O", "{out:file}"],
    "ngram train": ["-o", "2", "--smoothing", "wb", "-i", "{text}", "-O", "{out:file}"],
    "ngram eval": ["--lm", "{lm}", "-i", "{text}"],
    "ngram score": ["--lm", "{lm}", "-i", "{text}", "-O", "{out:file}"],
    "ngram query": ["--lm", "{lm}", "-i", "{text}", "-O", "{out:file}"],
    "ngram sample": ["--lm", "{lm}", "-n", "3", "-O", "{out:file}"],
    "ngram prune": ["--lm", "{lm}", "--counts", "{counts}", "--cutoffs", "0 1", "-O", "{out:file}"],
    "ngram mix": ["{lm}", "{lm2}", "--tune-on", "{text}", "-O", "{out:file}"],
    "w2v train": ["-i", "{text}", "-O", "{out:file}", "--min-count", "1", "--dim", "4", "--epochs", "1",
                  "--threads", "1"],
    "w2v similar": ["the", "-v", "{vectors}"],
    "w2v analogy": ["the", "of", "and", "-v", "{vectors}"],
    "w2v eval": ["-v", "{vectors}", "--analogies", "{analogies}", "--similarity", "{similarity}"],
    "asr validate": ["{datadir}"],
    "asr split": ["{datadir}", "{out:dir}", "{out:dir}", "--every", "2"],
    "asr features": ["{datadir}", "{out:dir}"],
    "asr train-mono": ["{feats}", "{lexicon}", "{out:dir}", "--iters", "1", "--gaussians", "8"],
    "asr align": ["{feats}", "{mono}", "{out:dir}"],
    "asr train-tri": ["{feats}", "{ali}", "{out:dir}", "--states", "8", "--gaussians", "12", "--iters", "1",
                      "--min-leaf-count", "20"],
    "asr train-sat": ["{feats}", "{tri_ali}", "{out:dir}", "--iters", "1", "--fmllr-iters", "0"],
    "asr decode": ["{feats}", "{mono}", "--lm", "{asr_lm}", "-O", "{out:file}"],
    "asr score": ["{ref}", "{hyp}"],
    "asr train-dnn": ["{feats}", "{ali}", "{mono}", "{out:rundir}", "--epochs", "1", "--hidden", "8",
                      "--layers", "1", "--context", "1", "--device", "cpu"],
    "asr transcribe": ["--model", "{dnn}", "{audio}", "-O", "{out:file}"],
    "nmt prepare": ["--train", "{nmt_prefix}", "--src", "src", "--tgt", "tgt", "--vocab-size", "20",
                    "-o", "{out:dir}"],
    "nmt train": ["--data", "{nmt_data}", "-o", "{out:rundir}", "--arch", "lstm-attention", "--embed-dim", "8",
                  "--hidden-dim", "8", "--epochs", "1", "--device", "cpu", "--threads", "1"],
    "nmt translate": ["-m", "{nmt_model}", "-i", "{nmt_src}", "-O", "{out:file}", "--device", "cpu"],
    "nmt average": ["{nmt_model}", "{nmt_model2}", "-O", "{out:file}"],
    "nmt score": ["-r", "{nmt_ref}", "-i", "{nmt_hyp}"],
    "vision train": ["--train", "{idx_train}", "-o", "{out:rundir}", "--epochs", "1", *TINY_VISION],
    "vision eval": ["-m", "{vision_model}", "-d", "{idx_test}", "--confusion-png", "{out:file}", "--device", "cpu"],
    "vision predict": ["-m", "{vision_model}", "{png}", "-O", "{out:file}", "--device", "cpu"],
    "vision cascade": ["--small", "{vision_model}", "--large", "{vision_model2}", "-d", "{idx_test}",
                       "--device", "cpu"],
    "vision compress prune": ["-m", "{vision_model}", "--train", "{idx_train}", "-d", "{idx_test}",
                              "-o", "{out:rundir}", "--epochs", "1", "--valid", "0", "--device", "cpu",
                              "--threads", "1"],
    "vision compress quantize": ["-m", "{vision_model}", "-d", "{idx_test}", "-o", "{out:rundir}"],
    "vision compress distill": ["--teacher", "{vision_model}", "--train", "{idx_train}", "-d", "{idx_test}",
                                "-o", "{out:rundir}", "--epochs", "1", *TINY_VISION],
    "accel check": ["--output-dir", "{out:rundir}", "--epochs", "1", "--device", "cpu"],
    "report": ["{exp_dir}", "-O", "{out:file}"],
}
# commands without inputs or outputs to break (they print facts about the machine)
NOTHING_TO_BREAK = {"vision models", "accel info", "accel bench"}
# (command, input) where an empty input is a valid one
EMPTY_IS_VALID = {("report", "exp_dir")}  # the table then says that no metric records were found

# inputs that are several files: the asset is a prefix (nmt) or an IDX images file whose labels sit beside it
COMPANIONS = {"nmt_prefix": lambda p: [p.with_name(p.name + ".src"), p.with_name(p.name + ".tgt")],
              "idx_train": lambda p: [p, p.with_name(p.name.replace("images", "labels"))],
              "idx_test": lambda p: [p, p.with_name(p.name.replace("images", "labels"))]}
DIR_ASSETS = {"datadir", "feats", "mono", "ali", "tri", "tri_ali", "dnn", "nmt_data", "vision_model", "vision_model2",
              "exp_dir"}


class Assets:
    """Valid inputs, each made on first use (a test needs only the ones its command reads)."""

    def __init__(self, root: Path, run):
        self.root = root
        self.run = run  # run(*args): a command that must succeed

    def get(self, name: str) -> Path:
        return getattr(self, name)

    @functools.cached_property
    def text(self) -> Path:
        p = self.root / "text.txt"
        p.write_text("the cat sat on the mat\nthe dog sat on the log\nof mice and men\n")
        return p

    @functools.cached_property
    def lm(self) -> Path:
        self.run("ngram", "train", "-o", "2", "--smoothing", "wb", "-i", self.text, "-O", self.root / "lm.arpa")
        return self.root / "lm.arpa"

    @functools.cached_property
    def lm2(self) -> Path:
        self.run("ngram", "train", "-o", "2", "--smoothing", "addk", "-i", self.text, "-O", self.root / "lm2.arpa")
        return self.root / "lm2.arpa"

    @functools.cached_property
    def counts(self) -> Path:
        self.run("ngram", "count", "-o", "2", "-i", self.text, "-O", self.root / "counts.txt")
        return self.root / "counts.txt"

    @functools.cached_property
    def vectors(self) -> Path:
        from speechlang.w2v.vecformat import write_vectors

        words = sorted(set(self.text.read_text().split()))
        vecs = np.random.default_rng(0).standard_normal((len(words), 4))
        write_vectors(self.root / "vectors.txt", words, vecs)
        return self.root / "vectors.txt"

    @functools.cached_property
    def analogies(self) -> Path:
        p = self.root / "analogies.txt"
        p.write_text(": animals\ncat mat dog log\n")
        return p

    @functools.cached_property
    def similarity(self) -> Path:
        p = self.root / "similarity.tsv"
        p.write_text("cat\tdog\t8.0\nmat\tlog\t5.0\nmice\tmen\t1.0\n")
        return p

    @functools.cached_property
    def datadir(self) -> Path:
        return TONES / "train"

    @functools.cached_property
    def lexicon(self) -> Path:
        return TONES / "lexicon.txt"

    @functools.cached_property
    def asr_lm(self) -> Path:
        return TONES / "lm.arpa"

    @functools.cached_property
    def audio(self) -> Path:
        return TONES / "audio" / "t1" / "t1-000.flac"

    @functools.cached_property
    def ref(self) -> Path:
        return TONES / "test" / "text"

    @functools.cached_property
    def hyp(self) -> Path:
        p = self.root / "hyp.txt"
        p.write_text(self.ref.read_text())
        return p

    @functools.cached_property
    def feats(self) -> Path:
        self.run("asr", "features", self.datadir, self.root / "feats")
        return self.root / "feats"

    @functools.cached_property
    def mono(self) -> Path:
        self.run("asr", "train-mono", self.feats, self.lexicon, self.root / "mono", "--iters", "2", "--gaussians", "10")
        return self.root / "mono"

    @functools.cached_property
    def ali(self) -> Path:
        self.run("asr", "align", self.feats, self.mono, self.root / "ali")
        return self.root / "ali"

    @functools.cached_property
    def tri(self) -> Path:
        self.run("asr", "train-tri", self.feats, self.ali, self.root / "tri", *COMMANDS["asr train-tri"][3:])
        return self.root / "tri"

    @functools.cached_property
    def tri_ali(self) -> Path:
        self.run("asr", "align", self.feats, self.tri, self.root / "tri_ali")
        return self.root / "tri_ali"

    @functools.cached_property
    def dnn(self) -> Path:
        self.run("asr", "train-dnn", self.feats, self.ali, self.mono, self.root / "dnn", "--epochs", "1",
                 "--hidden", "8", "--layers", "1", "--context", "1", "--device", "cpu", "--lm", self.asr_lm)
        return self.root / "dnn"

    @functools.cached_property
    def nmt_prefix(self) -> Path:
        return FIX / "nmt" / "toy.dev"

    @functools.cached_property
    def nmt_data(self) -> Path:
        self.run("nmt", "prepare", "--train", self.nmt_prefix, "--dev", FIX / "nmt" / "toy.test", "--src", "src",
             "--tgt", "tgt", "--vocab-size", "20", "-o", self.root / "nmt_data")
        return self.root / "nmt_data"

    @functools.cached_property
    def nmt_model(self) -> Path:
        self.run(*["nmt", "train", "--data", self.nmt_data, "-o", self.root / "nmt_run", *COMMANDS["nmt train"][4:]])
        return self.root / "nmt_run" / "checkpoint_last.pt"

    @functools.cached_property
    def nmt_model2(self) -> Path:
        return self.nmt_model

    @functools.cached_property
    def nmt_src(self) -> Path:
        return FIX / "nmt" / "toy.test.src"

    @functools.cached_property
    def nmt_ref(self) -> Path:
        return FIX / "nmt" / "toy.test.tgt"

    @functools.cached_property
    def nmt_hyp(self) -> Path:
        return FIX / "nmt" / "toy.test.src"

    def _idx(self, name: str, n: int, seed: int) -> Path:
        from speechlang.vision.idx import write_idx

        rng = np.random.default_rng(seed)
        write_idx(self.root / f"{name}-images-idx3-ubyte", rng.integers(0, 256, (n, 8, 8), dtype=np.uint8))
        write_idx(self.root / f"{name}-labels-idx1-ubyte", rng.integers(0, 2, n, dtype=np.uint8))
        return self.root / f"{name}-images-idx3-ubyte"

    @functools.cached_property
    def idx_train(self) -> Path:
        return self._idx("train", 64, 1)

    @functools.cached_property
    def idx_test(self) -> Path:
        return self._idx("test", 16, 2)

    @functools.cached_property
    def vision_model(self) -> Path:
        self.run("vision", "train", "--train", self.idx_train, "-o", self.root / "vision", "--epochs", "1",
                 *TINY_VISION)
        return self.root / "vision"

    @functools.cached_property
    def vision_model2(self) -> Path:
        return self.vision_model

    @functools.cached_property
    def png(self) -> Path:
        from speechlang.vision.png import write_png

        write_png(self.root / "x.png", np.zeros((8, 8), np.uint8))
        return self.root / "x.png"

    @functools.cached_property
    def exp_dir(self) -> Path:
        d = self.root / "exp"
        d.mkdir()
        (d / "eval.json").write_text('{"accuracy": 91.5}\n')
        return d


@pytest.fixture(scope="module")
def assets(tmp_path_factory, run_ok):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Assets(tmp_path_factory.mktemp("assets"), run_ok)
    torch.set_num_threads(n)


def _slots(template: list[str]) -> tuple[list[str], list[str]]:
    """(input asset names, output kinds) of a template."""
    names = [m for t in template for m in re.findall(r"\{([a-z_0-9]+)\}", t)]
    outs = [m for t in template for m in re.findall(r"\{out:(\w+)\}", t)]
    return names, outs


def _argv(command: str, assets: Assets, tmp: Path, broken: dict[str, Path], out_parent: Path) -> tuple[list, list]:
    """The command line with every input valid except `broken`, and the output paths."""
    outs = []

    def fill(tok: str) -> str:
        def sub(m):
            key = m.group(1)
            if key.startswith("out:"):
                outs.append(out_parent / f"out{len(outs)}.{key[4:]}")
                return str(outs[-1])
            return str(broken.get(key) or assets.get(key))
        return re.sub(r"\{([a-z_0-9:]+)\}", sub, tok)

    return ["--quiet", *command.split(), *map(fill, COMMANDS[command])], outs


def _assert_clean_failure(r, outs: list[Path], names: list[str]) -> None:
    assert r.exit_code == 1, (r.exit_code, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("speechlang: error: "), r.stderr
    assert any(n in lines[0] for n in names), f"the message does not name {names}: {lines[0]}"
    assert "Traceback" not in r.stderr
    for p in outs:
        assert not p.exists(), f"{p} was left behind"
        if p.parent.is_dir():
            left = [q.name for q in p.parent.iterdir() if q.name.startswith(f".{p.name}")]
            assert not left, f"temporary files left behind: {left}"


def _make_input(asset: str, path: Path, how: str) -> None:
    """Create a broken input at `path`: empty file(s)/dir, or unreadable ones; "missing" makes nothing."""
    paths = COMPANIONS.get(asset, lambda p: [p])(path)
    for p in paths:
        if how == "missing":
            continue
        if asset in DIR_ASSETS:
            p.mkdir()
        else:
            p.write_bytes(b"" if how == "empty" else b"x y z\n")
        if how == "unreadable":
            p.chmod(0)


INPUT_CASES = [(c, a, how) for c in COMMANDS for a in dict.fromkeys(_slots(COMMANDS[c])[0]) if not a.startswith("out")
               for how in ("empty", "missing", "unreadable")]
OUTPUT_CASES = [(c, where) for c in COMMANDS if _slots(COMMANDS[c])[1] for where in ("missing-dir", "read-only-dir")]


@pytest.mark.parametrize(("command", "asset", "how"), [
    pytest.param(*case, marks=as_user) if case[2] == "unreadable" else case for case in INPUT_CASES],
    ids=[f"{c}-{a}-{h}".replace(" ", "-") for c, a, h in INPUT_CASES])
def test_bad_input(cli, assets, tmp_path, command, asset, how):
    bad = tmp_path / "in" / (f"bad_{asset}" + ("-images-idx3-ubyte" if asset.startswith("idx") else ""))
    bad.parent.mkdir()
    _make_input(asset, bad, how)
    (tmp_path / "o").mkdir()
    argv, outs = _argv(command, assets, tmp_path, {asset: bad}, tmp_path / "o")
    try:
        r = cli(*argv)
    finally:
        for p in (bad.parent, *bad.parent.iterdir()):
            p.chmod(0o755)
    if how == "empty" and (command, asset) in EMPTY_IS_VALID:
        assert r.exit_code == 0, r.stderr
        return
    _assert_clean_failure(r, outs, [bad.name])


@pytest.mark.parametrize(("command", "where"), [
    pytest.param(*case, marks=as_user) if case[1] == "read-only-dir" else case for case in OUTPUT_CASES],
    ids=[f"{c}-{w}".replace(" ", "-") for c, w in OUTPUT_CASES])
def test_unwritable_output(cli, assets, tmp_path, command, where):
    if where == "missing-dir":
        parent = tmp_path / "no_such_dir"
        if "{out:rundir}" in " ".join(COMMANDS[command]):
            # run dirs are created with their parents (mkdir -p): make that impossible instead
            (tmp_path / "a_file").write_text("")
            parent = tmp_path / "a_file" / "sub"
    else:
        parent = tmp_path / "read_only"
        parent.mkdir()
        parent.chmod(0o555)
    argv, outs = _argv(command, assets, tmp_path, {}, parent)
    try:
        r = cli(*argv)
    finally:
        if parent.exists():
            parent.chmod(0o755)
    _assert_clean_failure(r, outs, [parent.name])


def test_every_command_is_covered(leaf_commands):
    """A new command needs its line in COMMANDS (or NOTHING_TO_BREAK)."""
    assert set(leaf_commands) == set(COMMANDS) | NOTHING_TO_BREAK

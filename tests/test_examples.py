"""The Makefile recipes in examples/: the ngram recipe run through make on a copy of its sample,
then rebuilt incrementally (an unchanged run is a no-op, a touched input redoes only what depends
on it, other settings redo the work, a missing input is one clear error).

Every recipe at once (`make -C examples all`, several minutes on 2 cores) runs only with
SPEECHLANG_RUN_EXAMPLES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SL = Path(sys.executable).with_name("speechlang")
pytestmark = pytest.mark.skipif(shutil.which("make") is None or not SL.exists(),
                                reason="needs GNU make and the installed speechlang program")


def _make(recipe: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT / "examples" / recipe), f"SL={SL}", *args],
                          capture_output=True, text=True, timeout=timeout)


def _touch(path: Path) -> None:
    """Make `path` newer than everything built so far (some filesystems keep whole seconds)."""
    time.sleep(1.1)
    os.utime(path)


@pytest.fixture
def ngram_run(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("bible-train-small.tok", "bible-dev-small.tok", "bible-test-small.tok"):
        shutil.copy(ROOT / "tests" / "fixtures" / "ngram" / name, data / name)
    exp = tmp_path / "exp"
    goals = [str(exp / "test.mkn.json"), str(exp / "test.pruned.json")]
    return data, exp, [f"DATA={data}", f"EXP={exp}", *goals]


def test_ngram_recipe_is_incremental(ngram_run):
    data, exp, args = ngram_run
    r = _make("ngram", *args)
    assert r.returncode == 0, r.stderr
    test_text = (data / "bible-test-small.tok").read_text().splitlines()
    for lm in ("mkn", "pruned"):
        rec = json.loads((exp / f"test.{lm}.json").read_text())
        assert rec["tokens"] == sum(len(s.split()) + 1 for s in test_text)   # words and </s> per line
        assert rec["sentences"] == len(test_text) and 1 < rec["ppl"] < 5000
    assert "TRAIN=" + str(data / "bible-train-small.tok") in (exp / "settings.txt").read_text()

    assert _make("ngram", "-q", *args).returncode == 0            # up to date: nothing to do
    arpa_mtime = (exp / "mkn.arpa").stat().st_mtime

    _touch(data / "bible-test-small.tok")                         # the test text: only the evaluations
    assert _make("ngram", "-q", *args).returncode == 1
    plan = _make("ngram", "-n", *args).stdout
    assert plan.count("ngram eval") == 2 and "ngram train" not in plan and "ngram prune" not in plan
    assert _make("ngram", *args).returncode == 0
    assert (exp / "mkn.arpa").stat().st_mtime == arpa_mtime
    assert _make("ngram", "-q", *args).returncode == 0

    _touch(data / "bible-train-small.tok")                        # the training text: everything
    plan = _make("ngram", "-n", *args).stdout
    assert "ngram train" in plan and "ngram prune" in plan and plan.count("ngram eval") == 2
    assert "--smoothing wb" not in plan                           # the goals do not need the WB model

    assert _make("ngram", "-q", "ORDER=2", *args).returncode == 1  # other settings: out of date


def test_missing_input_is_one_clear_error(tmp_path):
    r = _make("ngram", f"DATA={tmp_path / 'nowhere'}", f"EXP={tmp_path / 'exp'}")
    assert r.returncode == 2
    assert "bible-train-small.tok not found; set DATA" in r.stderr
    assert not (tmp_path / "exp").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SPEECHLANG_RUN_EXAMPLES") != "1",
                    reason="every recipe takes minutes; run with SPEECHLANG_RUN_EXAMPLES=1")
def test_every_recipe_and_the_report(tmp_path):
    exp = tmp_path / "exp"
    for goal in ("all", "report"):
        r = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT / "examples"), "-j2", goal, f"SL={SL}",
                            f"EXP={exp}"], capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, r.stderr[-3000:]
    table = (exp / "report.md").read_text()
    for run in ("ngram/test.mix", "w2v/eval.ns", "asr/decode_dnn/score", "nmt/score", "vision/eval",
                "pipeline/asr_score"):
        assert f"| {run} |" in table
    assert (exp / "curves.png").stat().st_size > 1000

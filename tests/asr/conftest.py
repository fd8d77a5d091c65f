"""The tones corpus's GMM parts, built once per session for the tests that add to them."""

from __future__ import annotations

from pathlib import Path

import pytest

TONES = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones"


@pytest.fixture(scope="session")
def tones_tri(tmp_path_factory, run_ok) -> Path:
    """A dir with features (ftrain, ftest), mono, its alignments (ali), tri and its alignments
    (tri_ali) of the tones corpus; tests write their own dirs beside them."""
    out = tmp_path_factory.mktemp("tones_tri")

    def run(*args):
        run_ok("asr", *args)
    run("features", TONES / "train", out / "ftrain")
    run("features", TONES / "test", out / "ftest")
    run("train-mono", out / "ftrain", TONES / "lexicon.txt", out / "mono", "--iters", 8, "--gaussians", 40)
    run("align", out / "ftrain", out / "mono", out / "ali")
    run("train-tri", out / "ftrain", out / "ali", out / "tri", "--states", 24, "--gaussians", 60,
        "--iters", 4, "--min-leaf-count", 20)
    run("align", out / "ftrain", out / "tri", out / "tri_ali")
    return out

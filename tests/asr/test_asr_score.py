"""WER against hand-counted edit operations and a brute-force edit distance."""

from __future__ import annotations

import itertools
import json

import pytest

from speechlang.asr.score import edit_ops, score_texts


@pytest.mark.parametrize("ref,hyp,want", [
    ("a b c d", "a b c d", (0, 0, 0)),
    ("a b c d", "a x c d", (1, 0, 0)),
    ("a b c d", "a c d", (0, 1, 0)),
    ("a b c d", "a b b c d", (0, 0, 1)),
    ("a b c d", "", (0, 4, 0)),
    ("", "a b", (0, 0, 2)),
    ("the cat sat on the mat", "a cat sat the mat mat", (3, 0, 0)),  # tie: 1+1+1 or 3 sub
    ("a b c d e", "a c d e f", (0, 1, 1)),
    ("one two three", "two three four", (0, 1, 1)),
])
def test_edit_ops_hand_counted(ref, hyp, want):
    assert edit_ops(ref.split(), hyp.split()) == want


def _levenshtein(a, b):
    if not a:
        return len(b)
    if not b:
        return len(a)
    return min(_levenshtein(a[1:], b[1:]) + (a[0] != b[0]), _levenshtein(a[1:], b) + 1,
               _levenshtein(a, b[1:]) + 1)


def test_total_errors_equal_the_edit_distance():
    for r in itertools.product("ab", repeat=3):
        for h in itertools.chain.from_iterable(itertools.product("abc", repeat=n) for n in range(4)):
            s, d, i = edit_ops(list(r), list(h))
            assert s + d + i == _levenshtein(r, h)
            assert len(r) - d + i == len(h)


def test_score_counts_per_speaker_and_missing():
    ref = {"s1-1": "a b c".split(), "s1-2": "d e".split(), "s2-1": "f".split()}
    hyp = {"s1-1": "a x c y".split(), "s2-1": "f".split()}
    res = score_texts(ref, hyp, {"s1-1": "s1", "s1-2": "s1", "s2-1": "s2"})
    t = res.total
    assert (t.ref_words, t.sub, t.dele, t.ins) == (6, 1, 2, 1)
    assert t.wer == pytest.approx(100 * 4 / 6)
    assert res.per_speaker["s1"].errors == 4 and res.per_speaker["s2"].errors == 0
    assert res.missing == ["s1-2"]


def test_score_cli(cli, tmp_path):
    (tmp_path / "text").write_text("u1 a b c\nu2 d e\n")
    (tmp_path / "utt2spk").write_text("u1 spk\nu2 spk\n")
    (tmp_path / "hyp").write_text("u1 a b\nu2 d e f\n")
    r = cli("asr", "score", tmp_path / "text", tmp_path / "hyp", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["wer"], rec["n_words"], rec["del"], rec["ins"], rec["sub"]) == (40.0, 5, 1, 1, 0)
    assert rec["per_speaker"]["spk"]["errors"] == 2
    r = cli("asr", "score", tmp_path / "text", "-", input="u1 a b c\nu2 d e\n")
    assert r.exit_code == 0 and r.stdout.startswith("%WER 0.00 [ 0 / 5, 0 ins, 0 del, 0 sub ]")
    r = cli("asr", "score", tmp_path / "text", "-", input="x9 a\n")
    assert r.exit_code == 1 and "none of its utterance ids" in r.stderr
    r = cli("asr", "score", tmp_path / "text", "-", input="")
    assert r.exit_code == 1 and "empty" in r.stderr


def test_score_starts_without_torch(tmp_path):
    """score and validate are text tools in pipelines and recipes: no torch import."""
    import subprocess
    import sys
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones" / "test"
    code = ("import sys\nfrom speechlang.cli.main import app\n"
            "for args in (['asr', 'score', sys.argv[1] + '/text', sys.argv[1] + '/text'],\n"
            "             ['asr', 'validate', sys.argv[1]]):\n"
            "    try:\n"
            "        app(args, prog_name='speechlang')\n"
            "    except SystemExit as e:\n"
            "        assert not e.code, args\n"
            "print('torch' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"

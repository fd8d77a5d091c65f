"""The GMM-HMM pipeline end to end through the CLI on the synthetic `tones` corpus (four
chord "phones", four words, unseen test speaker): held-out utterances are recognised,
alignments and CTMs agree with the transcripts, training repeats exactly with one seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechlang.asr.alignfile import read_alignments, read_ctm
from speechlang.asr.featfile import read_feats
from speechlang.asr.model import read_model

TONES = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones"


@pytest.fixture(scope="module")
def exp(tmp_path_factory, run_ok):
    """features, mono, align, tri on the tones corpus (run once for the module)."""
    out = tmp_path_factory.mktemp("tones")
    run_ok("asr", "features", TONES / "train", out / "ftrain")
    run_ok("asr", "features", TONES / "test", out / "ftest")
    run_ok("asr", "train-mono", out / "ftrain", TONES / "lexicon.txt", out / "mono",
           "--iters", 8, "--gaussians", 40)
    run_ok("asr", "align", out / "ftrain", out / "mono", out / "ali")
    run_ok("asr", "train-tri", out / "ftrain", out / "ali", out / "tri", "--states", 24,
           "--gaussians", 60, "--iters", 4, "--min-leaf-count", 20)
    run_ok("asr", "train-tri", out / "ftrain", out / "ali", out / "tri_cw", "--states", 24,
           "--gaussians", 60, "--iters", 4, "--min-leaf-count", 20, "--cross-word")
    return out


def _wer(cli, out: Path, model: str, lm: Path, *extra) -> dict:
    r = cli("asr", "decode", out / "ftest", out / model, "--lm", lm, "-O", out / f"hyp_{model}",
            *extra)
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", out / f"hyp_{model}", "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("model", ["mono", "tri", "tri_cw"])
def test_held_out_utterances_are_recognised(cli, exp, model):
    rec = _wer(cli, exp, model, TONES / "lm.arpa", "--lm-weight", "5")
    assert rec["n_words"] == 16
    assert rec["wer"] <= 6.25, rec  # at most one error in 16 words


def test_decodes_with_an_lm_from_speechlang_ngram(cli, exp, tmp_path):
    text = "".join(" ".join(line.split()[1:]) + "\n"
                   for line in (TONES / "train" / "text").read_text().splitlines())
    r = cli("ngram", "train", "-o", "3", "--smoothing", "wb", "-O", tmp_path / "lm3.arpa", input=text)
    assert r.exit_code == 0, r.stderr
    rec = _wer(cli, exp, "tri", tmp_path / "lm3.arpa", "--nbest", "3", "--nbest-out",
               tmp_path / "nbest", "--ctm", tmp_path / "hyp.ctm")
    assert rec["wer"] <= 6.25
    nbest = [line.split() for line in (tmp_path / "nbest").read_text().splitlines()]
    hyps = dict(line.split(maxsplit=1) for line in (exp / "hyp_tri").read_text().splitlines())
    for f in nbest:
        if f[1] == "1":
            assert " ".join(f[3:]) == hyps[f[0]]
    ctm_words = {}
    for utt, _, _, w in read_ctm(tmp_path / "hyp.ctm"):
        ctm_words.setdefault(utt, []).append(w)
    assert {u: " ".join(w) for u, w in ctm_words.items()} == hyps


def test_alignments_match_features_and_transcripts(exp):
    ali = read_alignments(exp / "ali")
    feats = read_feats(exp / "ftrain")
    text = feats.datadir().text
    model = read_model(exp / "mono")
    assert len(ali) == len(feats)
    for u in feats.utts():
        a = ali[u]
        assert len(a.pdf) == len(feats[u])
        # states of a phone run 0, 1, 2 in order; first and last frames are silence or a word edge
        assert a.state[0] == 0 and a.state[-1] == 2
        assert set(np.diff(a.state.astype(int)).tolist()) <= {0, 1, -2}
    words = {}
    for utt, _start, dur, w in read_ctm(exp / "ali" / "words.ctm"):
        assert dur > 0
        words.setdefault(utt, []).append(w)
    assert words == text
    phones = read_ctm(exp / "ali" / "phones.ctm")
    assert {p for _, _, _, p in phones} <= set(model.lexicon.phones)
    # phone segments tile each utterance
    for u in feats.utts():
        rows = [r for r in phones if r[0] == u]
        assert sum(d for _, _, d, _ in rows) == pytest.approx(len(feats[u]) * 0.01, abs=1e-6)


def test_tri_model_ties_contexts(exp):
    tri = read_model(exp / "tri")
    mono = read_model(exp / "mono")
    assert tri.kind == "tri" and mono.kind == "mono"
    assert tri.gmm.num_pdfs > mono.gmm.num_pdfs
    assert tri.gmm.num_pdfs <= 24 or tri.gmm.num_pdfs == mono.gmm.num_pdfs


def test_training_repeats_exactly(cli, exp, tmp_path):
    r = cli("asr", "train-mono", exp / "ftrain", TONES / "lexicon.txt", tmp_path / "m2",
            "--iters", 8, "--gaussians", 40)
    assert r.exit_code == 0, r.stderr
    a, b = np.load(exp / "mono" / "gmm.npz"), np.load(tmp_path / "m2" / "gmm.npz")
    for k in ("weights", "means", "vars", "start", "loop_prob"):
        np.testing.assert_array_equal(a[k], b[k])


def test_baum_welch_training_recognises_too(cli, exp, tmp_path):
    r = cli("asr", "train-mono", exp / "ftrain", TONES / "lexicon.txt", tmp_path / "bw",
            "--iters", 6, "--gaussians", 30, "--baum-welch", "--json")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "decode", exp / "ftest", tmp_path / "bw", "--lm", TONES / "lm.arpa", "-O",
            tmp_path / "hyp", "--lm-weight", "5")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", tmp_path / "hyp", "--json")
    assert json.loads(r.stdout)["wer"] <= 12.5


def test_a_constant_feature_dimension_is_floored_not_fatal(cli, exp, tmp_path):
    """A dimension with zero variance (e.g. fbank bins above the band of upsampled 8 kHz audio,
    without dither) gets the absolute variance floor and does not stop training."""
    import shutil
    for part in ("ftrain", "ftest"):
        shutil.copytree(exp / part, tmp_path / part)
        f = np.load(tmp_path / part / "feats.npy")
        f[:, 0] = 0.0
        np.save(tmp_path / part / "feats.npy", f)
    r = cli("asr", "train-mono", tmp_path / "ftrain", TONES / "lexicon.txt", tmp_path / "mono",
            "--iters", 8, "--gaussians", 40)
    assert r.exit_code == 0, r.stderr
    assert np.load(tmp_path / "mono" / "gmm.npz")["vars"][:, 0].min() > 0
    rec = _wer(cli, tmp_path, "mono", TONES / "lm.arpa", "--lm-weight", "5")
    assert rec["wer"] <= 6.25, rec


def test_cross_word_triphones_see_the_neighbouring_words(cli, exp, tmp_path):
    from speechlang.asr.alignfile import cross_word_contexts
    tri, cw = read_model(exp / "tri"), read_model(exp / "tri_cw")
    assert cw.tree.cross_word and not tri.tree.cross_word
    r = cli("asr", "align", exp / "ftrain", exp / "tri_cw", tmp_path / "ali_cw")
    assert r.exit_code == 0, r.stderr
    alis = read_alignments(tmp_path / "ali_cw")
    n_ph = len(cw.lexicon.phones)
    across = 0
    for u in alis.utts:
        a = alis[u]
        again = cross_word_contexts(a, n_ph)  # the graph's contexts are the path's neighbours
        np.testing.assert_array_equal(a.ctx_left, again.ctx_left)
        np.testing.assert_array_equal(a.ctx_right, again.ctx_right)
        across += int((a.ctx_left >= n_ph).sum())
        assert (a.ctx_left[0], a.ctx_right[-1]) == (-1, -1)
    assert across > 0
    # a word-internal tree cannot be built on cross-word contexts: one clear line
    r = cli("asr", "train-tri", exp / "ftrain", tmp_path / "ali_cw", tmp_path / "wi", "--states", "24")
    assert r.exit_code == 1 and "train with --cross-word" in r.stderr
    assert not (tmp_path / "wi").exists()


def test_reweighted_graph_is_the_graph_built_at_that_weight(exp):
    from speechlang.asr.decoder import DecodeConfig, build_graph
    from speechlang.ngram.arpa import read_arpa

    model, lm = read_model(exp / "tri_cw"), read_arpa(TONES / "lm.arpa")
    base = build_graph(model, lm, DecodeConfig(lm_weight=1.0, word_ins_penalty=-0.5))
    for w in (0.0, 3.0, 17.5):
        want = build_graph(model, lm, DecodeConfig(lm_weight=w, word_ins_penalty=-0.5))
        got = base.reweighted(w)
        assert np.array_equal(got.arc_w, want.arc_w) and np.array_equal(got.final_w, want.final_w)
        assert np.array_equal(got.arc_dest, want.arc_dest) and got.lm_weight == w
    assert not np.array_equal(base.reweighted(3.0).arc_w, base.reweighted(17.5).arc_w)


@pytest.mark.parametrize("model", ["tri", "tri_cw"])
def test_one_decode_at_several_lm_weights_equals_a_decode_at_each(cli, exp, tmp_path, model):
    weights = ["0", "2.5", "20"]
    r = cli("asr", "decode", exp / "ftest", exp / model, "--lm", TONES / "lm.arpa", "--nbest", 3,
            "--lm-weight", ",".join(weights), "-O", tmp_path / "hyp.{lm_weight}",
            "--nbest-out", tmp_path / "nbest.{lm_weight}", "--ctm", tmp_path / "ctm.{lm_weight}",
            "--json")
    assert r.exit_code == 0, r.stderr
    assert [json.loads(x)["lm_weight"] for x in r.stdout.splitlines()] == [0.0, 2.5, 20.0]
    for w in weights:
        one = tmp_path / f"one{w}"
        one.mkdir()
        r = cli("asr", "decode", exp / "ftest", exp / model, "--lm", TONES / "lm.arpa", "--nbest", 3,
                "--lm-weight", w, "-O", one / "hyp", "--nbest-out", one / "nbest", "--ctm", one / "ctm")
        assert r.exit_code == 0, r.stderr
        for name in ("hyp", "nbest", "ctm"):
            assert (tmp_path / f"{name}.{w}").read_text() == (one / name).read_text(), (name, w)
    # the n-best scores carry the LM weight, so the outputs do differ between weights
    assert (tmp_path / "nbest.0").read_text() != (tmp_path / "nbest.20").read_text()


@pytest.mark.parametrize("weights,out,error", [
    ("4,8", "hyp", "name the outputs with {lm_weight}"),
    ("4,8", "-", "name the outputs with {lm_weight}"),
    ("4,8,4.0", "hyp{lm_weight}", "a weight is given twice"),
    ("4,-1", "hyp{lm_weight}", "must be a number >= 0"),
    ("4,,8", "hyp{lm_weight}", "expected numbers separated by commas"),
    ("nan", "hyp", "must be a number >= 0"),
])
def test_bad_lm_weights_are_one_error_before_decoding(cli, exp, tmp_path, weights, out, error):
    dest = out if out == "-" else tmp_path / out
    r = cli("asr", "decode", exp / "ftest", exp / "tri", "--lm", TONES / "lm.arpa",
            "--lm-weight", weights, "-O", dest)
    assert r.exit_code != 0 and error in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [] and r.stdout == ""

"""Splicing, LDA and MLLT (train-tri --lda-dim): splicing against hand-stacked frames, LDA
against a brute-force generalized eigenproblem, MLLT at its stationary point (a single
Gaussian's covariance made diagonal), transform files; triphones on LDA+MLLT features
align, decode, adapt (SAT) and feed a DNN on the tones corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechlang.asr.gmm import GMMSet
from speechlang.asr.lda import (
    InputTransform,
    LdaStats,
    MlltStats,
    estimate_lda,
    estimate_mllt,
    mllt_auxf,
    read_input_transform,
    splice,
    write_input_transform,
)
from speechlang.errors import DataError, FormatError

TONES = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones"


def test_splice_stacks_neighbours_and_repeats_the_edges():
    x = np.arange(10.0).reshape(5, 2)
    s = splice(x, 1)
    assert s.shape == (5, 6)
    np.testing.assert_array_equal(s[0], np.r_[x[0], x[0], x[1]])
    np.testing.assert_array_equal(s[2], np.r_[x[1], x[2], x[3]])
    np.testing.assert_array_equal(s[4], np.r_[x[3], x[4], x[4]])
    np.testing.assert_array_equal(splice(x, 0), x)
    one = splice(x[:1], 2)
    np.testing.assert_array_equal(one, np.tile(x[0], 5)[None])


def _classes(seed: int, d: int = 6, c: int = 5, n: int = 4000):
    """Frames of c classes sharing one full within-class covariance, labels, weights."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d))
    means = rng.normal(0, 2, (c, d))
    cls = rng.integers(0, c, n)
    x = means[cls] + rng.normal(size=(n, d)) @ mix.T
    return x, cls, rng.uniform(0.5, 1.5, n)


def test_lda_solves_the_generalized_eigenproblem_and_whitens_the_classes():
    x, cls, w = _classes(0)
    st = LdaStats(x.shape[1], 7)  # two classes without frames
    st.accumulate(x[:1000], cls[:1000], w[:1000])
    st.accumulate(x[1000:], cls[1000:], w[1000:])
    m, info = estimate_lda(st, 3)
    assert m.shape == (3, 6) and info["classes"] == 5
    # brute force: weighted within- and between-class covariances
    n = w.sum()
    mean = (w[:, None] * x).sum(0) / n
    within = np.zeros((6, 6))
    between = np.zeros((6, 6))
    for k in range(5):
        sel = cls == k
        nk = w[sel].sum()
        mk = (w[sel, None] * x[sel]).sum(0) / nk
        within += ((x[sel] - mk) * w[sel, None]).T @ (x[sel] - mk)
        between += nk * np.outer(mk - mean, mk - mean)
    within, between = within / n, between / n
    np.testing.assert_allclose(m @ within @ m.T, np.eye(3), atol=1e-8)
    proj = m @ between @ m.T
    np.testing.assert_allclose(proj, np.diag(np.diag(proj)), atol=1e-8)
    ref = np.sort(np.linalg.eigvals(np.linalg.solve(within, between)).real)[::-1]
    np.testing.assert_allclose(np.diag(proj), ref[:3], rtol=1e-6)
    np.testing.assert_allclose(info["eigenvalues"], np.round(ref[:3], 4), atol=1e-4)
    with pytest.raises(DataError, match="--lda-dim 7"):
        estimate_lda(st, 7)
    one = LdaStats(6, 2)
    one.accumulate(x, np.zeros(len(x), int), w)
    with pytest.raises(DataError, match="two classes"):
        estimate_lda(one, 2)


def _single_gaussian(seed: int, d: int = 4, n: int = 5000):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)).T
    var = rng.uniform(0.5, 2.0, d)
    gmm = GMMSet(np.ones(1), y.mean(0)[None], var[None], np.array([0, 1], np.int32))
    return gmm, y


def test_mllt_makes_a_single_gaussians_covariance_diagonal():
    """At the optimum (fixed variances) beta A^-T = [a_i G_i]_i, i.e. A S A^T = diag(var) for
    the sample covariance S: the transformed data have the model's diagonal covariance."""
    gmm, y = _single_gaussian(1)
    st = MlltStats(gmm)
    st.accumulate(y[:2000], np.zeros(2000, int), np.ones(2000))
    st.accumulate(y[2000:], np.zeros(3000, int), np.ones(3000))
    a, info = estimate_mllt(st)
    s = np.cov(y.T, bias=True)
    np.testing.assert_allclose(a @ s @ a.T, np.diag(gmm.vars[0]), atol=1e-6)
    assert info["auxf_gain_per_frame"] > 0
    g = st.g()
    grad = st.beta * np.linalg.inv(a).T - np.einsum("ij,ijk->ik", a, g)
    assert np.abs(grad).max() < 1e-6 * st.beta
    # any perturbation of the optimum lowers Q
    rng = np.random.default_rng(2)
    q = mllt_auxf(g, st.beta, a)
    for _ in range(5):
        assert mllt_auxf(g, st.beta, a + 1e-3 * rng.normal(size=a.shape)) < q


def test_mllt_statistics_use_the_gaussian_posteriors_and_weights():
    """G_i summed by hand over two components of one pdf, frames weighted, silence (weight 0)
    left out."""
    rng = np.random.default_rng(3)
    d = 3
    gmm = GMMSet(np.array([0.3, 0.7]), rng.normal(size=(2, d)), rng.uniform(0.5, 2, (2, d)),
                 np.array([0, 2], np.int32))
    y = rng.normal(size=(50, d))
    w = rng.uniform(0, 1, 50)
    w[:5] = 0
    st = MlltStats(gmm)
    st.accumulate(y, np.zeros(50, int), w)
    ref = np.zeros((d, d, d))
    beta = 0.0
    for t in range(50):
        ll = [np.log(gmm.weights[m]) - 0.5 * np.sum(np.log(2 * np.pi * gmm.vars[m])
                                                     + (y[t] - gmm.means[m]) ** 2 / gmm.vars[m])
              for m in range(2)]
        post = np.exp(np.array(ll) - max(ll))
        post = w[t] * post / post.sum()
        for m in range(2):
            diff = y[t] - gmm.means[m]
            ref += post[m] * np.outer(diff, diff)[None] / gmm.vars[m][:, None, None]
            beta += post[m]
    np.testing.assert_allclose(st.g(), ref, rtol=1e-9, atol=1e-12)
    assert st.beta == pytest.approx(beta)


def test_input_transform_file_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(4)
    t = InputTransform(2, 3, rng.normal(size=(4, 15)))
    write_input_transform(tmp_path / "t.npz", t)
    back = read_input_transform(tmp_path / "t.npz")
    assert back.same_as(t) and back.context == 2 and back.static_dims == 3
    x = rng.normal(size=(7, 9)).astype(np.float32)  # statics + deltas
    np.testing.assert_allclose(back(x), splice(x[:, :3].astype(np.float64), 2) @ t.matrix.T, rtol=1e-5)
    with pytest.raises(DataError, match="static dimensions"):
        back(x[:, :2])
    np.savez(tmp_path / "bad.npz", matrix=np.zeros((4, 14)), context=2, static_dims=3)
    with pytest.raises(FormatError, match="does not fit"):
        read_input_transform(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(FormatError, match="not an LDA/MLLT transform"):
        read_input_transform(tmp_path / "junk.npz")


@pytest.fixture(scope="module")
def lda_exp(tones_tri, run_ok):
    """The tones GMM parts (conftest) and LDA+MLLT triphones (tri2) on the tri alignments."""
    run_ok("asr", "train-tri", tones_tri / "ftrain", tones_tri / "tri_ali", tones_tri / "tri2", "--iters", 6,
           "--states", 24, "--gaussians", 60, "--min-leaf-count", 20, "--lda-dim", 12, "--splice", 2,
           "--mllt-iters", "1,3")
    return tones_tri


def test_lda_model_holds_its_transform(lda_exp):
    from speechlang.asr.featfile import read_feats
    from speechlang.asr.model import read_model

    m = read_model(lda_exp / "tri2")
    assert m.gmm.dim == 12 and m.transform.context == 2 and m.transform.static_dims == 13
    assert m.transform.matrix.shape == (12, 13 * 5)
    assert [r["iter"] for r in m.info["mllt"]] == [2, 4]  # history numbering (from 1)
    assert all(r["auxf_gain_per_frame"] > 0 for r in m.info["mllt"])
    x = read_feats(lda_exp / "ftrain")
    u = x.utts()[0]
    np.testing.assert_allclose(m.input(x[u]), m.transform(x[u]))
    assert m.input(x[u]).shape == (len(x[u]), 12)


def test_lda_triphones_align_and_recognise_the_test_speaker(cli, lda_exp):
    from speechlang.asr.alignfile import read_alignments
    from speechlang.asr.featfile import read_feats

    r = cli("asr", "align", lda_exp / "ftrain", lda_exp / "tri2", lda_exp / "tri2_ali")
    assert r.exit_code == 0, r.stderr
    ali, feats = read_alignments(lda_exp / "tri2_ali"), read_feats(lda_exp / "ftrain")
    assert all(len(ali[u].pdf) == len(feats[u]) for u in ali.utts)
    r = cli("asr", "decode", lda_exp / "ftest", lda_exp / "tri2", "--lm", TONES / "lm.arpa",
            "--lm-weight", "5", "-O", lda_exp / "hyp2")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", lda_exp / "hyp2", "--json")
    assert json.loads(r.stdout)["wer"] <= 6.25  # at most one error in 16 words


def test_sat_and_fmllr_decoding_in_the_lda_space(cli, run_ok, lda_exp):
    run_ok("asr", "align", lda_exp / "ftrain", lda_exp / "tri2", lda_exp / "tri2_ali_sat")
    run_ok("asr", "train-sat", lda_exp / "ftrain", lda_exp / "tri2_ali_sat", lda_exp / "sat2",
           "--iters", 4, "--fmllr-iters", "0,2", "--min-count", 20)
    from speechlang.asr.fmllr import read_transforms
    assert all(w.shape == (12, 13) for w in read_transforms(lda_exp / "sat2" / "trans.npz").values())
    r = cli("asr", "decode", lda_exp / "ftest", lda_exp / "sat2", "--lm", TONES / "lm.arpa",
            "--lm-weight", "5", "--fmllr", "-O", lda_exp / "hyp_sat2", "--json")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", lda_exp / "hyp_sat2", "--json")
    assert json.loads(r.stdout)["wer"] <= 6.25
    # a first pass in another feature space is refused
    r = cli("asr", "decode", lda_exp / "ftest", lda_exp / "sat2", "--lm", TONES / "lm.arpa", "--fmllr",
            "--si-model", lda_exp / "tri", "-O", lda_exp / "hyp_bad_lda")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert not (lda_exp / "hyp_bad_lda").exists()


def test_dnn_on_lda_triphone_alignments_keeps_the_transform(cli, lda_exp, tmp_path):
    """The DNN reads the plain features; its dir carries the tri2 parts, transform included."""
    from speechlang.asr.dnn import read_dnn

    r = cli("asr", "align", lda_exp / "ftrain", lda_exp / "tri2", tmp_path / "ali")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "train-dnn", lda_exp / "ftrain", tmp_path / "ali", lda_exp / "tri2", tmp_path / "dnn",
            "--hidden", 64, "--layers", 2, "--epochs", 4)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "dnn" / "transform.npz").is_file()
    d = read_dnn(tmp_path / "dnn")
    assert d.meta["input_dim"] == 39 and d.hmm.transform is not None
    r = cli("asr", "decode", lda_exp / "ftest", tmp_path / "dnn", "--lm", TONES / "lm.arpa",
            "--lm-weight", "5", "-O", tmp_path / "hyp")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", tmp_path / "hyp", "--json")
    assert json.loads(r.stdout)["wer"] <= 12.5


def test_bad_lda_settings_and_a_missing_transform(cli, lda_exp, tmp_path):
    r = cli("asr", "train-tri", lda_exp / "ftrain", lda_exp / "tri_ali", tmp_path / "big",
            "--lda-dim", 200, "--splice", 1, "--states", 24, "--gaussians", 60)
    assert r.exit_code == 1 and "--lda-dim 200" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "big").exists()
    r = cli("asr", "train-tri", lda_exp / "ftrain", lda_exp / "tri_ali", tmp_path / "it0",
            "--lda-dim", 12, "--mllt-iters", "0,2")
    assert r.exit_code != 0 and "--mllt-iters" in r.stderr
    assert not (tmp_path / "it0").exists()
    import shutil
    shutil.copytree(lda_exp / "tri2", tmp_path / "broken")
    (tmp_path / "broken" / "transform.npz").unlink()
    r = cli("asr", "decode", lda_exp / "ftest", tmp_path / "broken", "--lm", TONES / "lm.arpa",
            "-O", tmp_path / "hyp")
    assert r.exit_code == 1 and "transform.npz is missing" in r.stderr
    assert not (tmp_path / "hyp").exists()

"""fMLLR: the row-by-row update never lowers the auxiliary function, reaches a stationary point,
recovers a known affine distortion of data drawn from a known GMM, returns the identity when
the data already fit the model; transform files round-trip; SAT and two-pass decoding run
end to end on the tones corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from speechlang.asr.dnn import read_dnn
from speechlang.asr.fmllr import (
    FmllrConfig,
    FmllrStats,
    apply_transform,
    auxf,
    estimate,
    gradient,
    identity,
    read_transforms,
    write_transforms,
)
from speechlang.asr.gmm import GMMSet
from speechlang.errors import DataError, FormatError

D, P, M = 4, 5, 2


def _model_and_data(seed: int, frames: int = 20000):
    """A diagonal GMM set (P pdfs of M Gaussians), frames drawn from it, their pdf labels."""
    rng = np.random.default_rng(seed)
    g = P * M
    means = rng.normal(0, 2, (g, D))
    var = rng.uniform(0.3, 1.5, (g, D))
    gmm = GMMSet(np.full(g, 1 / M), means, var, np.arange(0, g + 1, M, dtype=np.int32))
    pdf = rng.integers(0, P, frames)
    comp = gmm.start[pdf] + rng.integers(0, M, frames)
    y = means[comp] + rng.normal(size=(frames, D)) * np.sqrt(var[comp])
    return gmm, y, pdf, rng


def _stats(gmm, x, pdf, w=None):
    st = FmllrStats(D)
    st.accumulate(gmm, x, pdf, np.ones(len(x)), w)
    return st


def test_auxiliary_function_never_decreases():
    gmm, y, pdf, rng = _model_and_data(0, 3000)
    x = y @ (np.eye(D) + 0.4 * rng.normal(size=(D, D))).T + rng.normal(size=D)
    st = _stats(gmm, x, pdf)
    w, info = estimate(st, FmllrConfig(iters=8))
    hist = info["auxf_per_frame"]
    assert len(hist) == 9 and hist[-1] > hist[0] + 0.1
    assert all(b >= a - 1e-9 for a, b in zip(hist, hist[1:], strict=False)), hist
    # each single row update is a maximisation too: perturbing any entry lowers Q
    q = auxf(st, w)
    for _ in range(20):
        d = np.zeros_like(w)
        d[rng.integers(D), rng.integers(D + 1)] = rng.choice([-1, 1]) * 1e-3
        assert auxf(st, w + d) <= q + 1e-9
    # more sweeps converge to a stationary point of Q
    w, _ = estimate(st, FmllrConfig(iters=40))
    assert np.abs(gradient(st, w)).max() / st.beta < 1e-8


def test_recovers_the_inverse_of_a_known_affine_map():
    gmm, y, pdf, rng = _model_and_data(1)
    a0 = np.eye(D) + 0.3 * rng.normal(size=(D, D))
    b0 = rng.normal(size=D)
    x = (y - b0) @ np.linalg.inv(a0).T  # observed features: a0 x + b0 = y is the model space
    w = None
    for _ in range(4):  # EM: Gaussian posteriors under the current transform
        w, _ = estimate(_stats(gmm, x, pdf, w), FmllrConfig(iters=10))
    assert np.abs(w[:, :D] - a0).max() < 0.06, w
    assert np.abs(w[:, D] - b0).max() < 0.1, w
    assert np.abs(apply_transform(w, x) - y).mean() < 0.05


def test_identity_when_the_data_fit_the_model():
    gmm, y, pdf, _ = _model_and_data(2)
    w, info = estimate(_stats(gmm, y, pdf))
    assert not info["identity"]
    assert np.abs(w - identity(D)).max() < 0.03, w


def test_too_few_frames_give_the_identity_and_weights_count():
    gmm, y, pdf, _ = _model_and_data(3, 40)
    st = FmllrStats(D)
    st.accumulate(gmm, y, pdf, np.where(np.arange(40) < 10, 0.0, 1.0))
    assert st.beta == pytest.approx(30)
    w, info = estimate(st, FmllrConfig(min_count=50))
    assert info["identity"] and np.array_equal(w, identity(D))


def test_transform_file_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    tr = {"b": rng.normal(size=(3, 4)), "a": identity(3)}
    write_transforms(tmp_path / "t.npz", tr)
    back = read_transforms(tmp_path / "t.npz")
    assert sorted(back) == ["a", "b"] and np.array_equal(back["b"], tr["b"])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(FormatError):
        read_transforms(tmp_path / "bad.npz")
    with pytest.raises(DataError):
        apply_transform(identity(3), np.zeros((5, 4), np.float32))


TONES = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones"


@pytest.fixture(scope="module")
def sat_exp(tones_tri, run_ok):
    """The tones GMM parts (conftest) and a SAT model on the tri alignments."""
    run_ok("asr", "train-sat", tones_tri / "ftrain", tones_tri / "tri_ali", tones_tri / "sat", "--iters", 4,
           "--fmllr-iters", "0,2", "--min-count", 20)
    return tones_tri


def test_sat_model_holds_a_transform_per_training_speaker(sat_exp):
    from speechlang.asr.featfile import read_feats
    from speechlang.asr.model import read_model

    sat, tri = read_model(sat_exp / "sat"), read_model(sat_exp / "tri")
    assert sat.kind == "sat" and sat.gmm.num_pdfs == tri.gmm.num_pdfs
    assert sat.info["si_model"] == str(sat_exp / "tri")
    tr = read_transforms(sat_exp / "sat" / "trans.npz")
    assert sorted(tr) == sorted(set(read_feats(sat_exp / "ftrain").datadir().utt2spk.values()))
    dim = sat.gmm.dim
    for w in tr.values():
        assert w.shape == (dim, dim + 1) and np.abs(w - identity(dim)).max() > 1e-3
    hist = sat.info["history"]
    assert [h["iter"] for h in hist if "fmllr_auxf_gain" in h] == [1, 3]
    assert all(h["fmllr_auxf_gain"] > 0 for h in hist if "fmllr_auxf_gain" in h)


def test_two_pass_fmllr_decoding_recognises_the_test_speaker(cli, sat_exp):
    hyp = sat_exp / "hyp_sat"
    r = cli("asr", "decode", sat_exp / "ftest", sat_exp / "sat", "--lm", TONES / "lm.arpa", "--lm-weight",
            "5", "--fmllr", "--fmllr-sil-weight", "0", "-O", hyp, "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["passes"] == 3 and len(rec["fmllr"]) == 2 and rec["fmllr"][0]["speakers"] == 1
    assert rec["fmllr"][0]["auxf_gain_per_frame"] > 0
    r = cli("asr", "score", TONES / "test" / "text", hyp, "--json")
    assert json.loads(r.stdout)["wer"] <= 6.25  # at most one error in 16 words


def test_fmllr_decoding_rejects_a_first_pass_model_with_other_states(cli, sat_exp):
    r = cli("asr", "decode", sat_exp / "ftest", sat_exp / "sat", "--lm", TONES / "lm.arpa", "--fmllr",
            "--si-model", sat_exp / "mono", "-O", sat_exp / "hyp_bad")
    assert r.exit_code == 1 and "different trees" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (sat_exp / "hyp_bad").exists()


def test_dnn_on_fmllr_adapted_features(cli, sat_exp, tmp_path):
    """train-dnn --fmllr trains on A x + b per training speaker (the same weights as training
    on a feature dir adapted by hand) and decodes only through --fmllr."""
    from speechlang.asr.featfile import read_feats, write_feats

    small = ("--hidden", 64, "--layers", 2, "--epochs", 4)
    r = cli("asr", "train-dnn", sat_exp / "ftrain", sat_exp / "tri_ali", sat_exp / "sat",
            tmp_path / "dnn", "--fmllr", *small)
    assert r.exit_code == 0, r.stderr
    feats, trans = read_feats(sat_exp / "ftrain"), read_transforms(sat_exp / "sat" / "trans.npz")
    d = feats.datadir()
    (tmp_path / "adapted").mkdir()
    write_feats(tmp_path / "adapted", d, feats.utts(),
                [apply_transform(trans[d.utt2spk[u]], feats[u]) for u in feats.utts()], feats.config)
    r = cli("asr", "train-dnn", tmp_path / "adapted", sat_exp / "tri_ali", sat_exp / "sat",
            tmp_path / "by_hand", *small)
    assert r.exit_code == 0, r.stderr
    a, b = read_dnn(tmp_path / "dnn").net.state_dict(), read_dnn(tmp_path / "by_hand").net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = cli("asr", "train-dnn", sat_exp / "ftrain", sat_exp / "tri_ali", sat_exp / "sat",
                tmp_path / "plain", *small)
    assert plain.exit_code == 0
    assert not torch.equal(read_dnn(tmp_path / "plain").net.mean, a["mean"])

    lm = ("--lm", TONES / "lm.arpa", "--lm-weight", "5")
    r = cli("asr", "decode", sat_exp / "ftest", tmp_path / "dnn", *lm, "-O", tmp_path / "hyp0")
    assert r.exit_code == 1 and "--fmllr" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hyp0").exists()
    r = cli("asr", "decode", sat_exp / "ftest", tmp_path / "dnn", *lm, "--fmllr", "--si-model",
            sat_exp / "tri", "-O", tmp_path / "hyp", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["passes"] == 3
    r = cli("asr", "score", TONES / "test" / "text", tmp_path / "hyp", "--json")
    assert json.loads(r.stdout)["wer"] <= 6.25  # at most one error in 16 words
    r = cli("asr", "train-dnn", sat_exp / "ftrain", sat_exp / "tri_ali", sat_exp / "tri",
            tmp_path / "no_sat", "--fmllr", *small)
    assert r.exit_code == 1 and "trans.npz" in r.stderr
    assert not (tmp_path / "no_sat" / "dnn.json").exists()


def test_fmllr_needs_the_gmm_features(cli, run_ok, sat_exp, tmp_path):
    """fMLLR transforms live in the GMM's feature space: a DNN on other features (fbank) can
    neither train on adapted features nor be the first pass of --fmllr decoding."""
    run_ok("asr", "features", TONES / "train", tmp_path / "fb", "--kind", "fbank", "--no-energy")
    small = ("--hidden", 32, "--layers", 1, "--epochs", 1)
    r = cli("asr", "train-dnn", tmp_path / "fb", sat_exp / "tri_ali", sat_exp / "sat",
            tmp_path / "x", "--fmllr", *small)
    assert r.exit_code == 1 and "kind='fbank'" in r.stderr and not (tmp_path / "x").exists()
    r = cli("asr", "train-dnn", tmp_path / "fb", sat_exp / "tri_ali", sat_exp / "tri",
            tmp_path / "fb_dnn", *small)
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "decode", sat_exp / "ftest", sat_exp / "sat", "--lm", TONES / "lm.arpa",
            "--fmllr", "--si-model", tmp_path / "fb_dnn", "-O", tmp_path / "hyp")
    assert r.exit_code == 1 and "kind=" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hyp").exists()


def test_fmllr_decoding_with_adabn_on_the_dnn_passes(cli, sat_exp, tmp_path, monkeypatch):
    """--adabn with --fmllr: AdaBN in exactly the passes a TDNN decodes (here the last, a
    train-dnn --fmllr TDNN; pass 1 is the tri GMM); with GMMs only it is an error."""
    from speechlang.asr import decoder

    r = cli("asr", "train-dnn", sat_exp / "ftrain", sat_exp / "tri_ali", sat_exp / "sat",
            tmp_path / "tdnn", "--fmllr", "--arch", "tdnn", "--context", 4, "--hidden", 32, "--epochs", 6)
    assert r.exit_code == 0, r.stderr
    calls, real = [], decoder.decode_sweep  # every pass of decode_dir is a decode_sweep
    monkeypatch.setattr(decoder, "decode_sweep", lambda f, m, *a, adabn=False, **k: calls.append(
        (Path(m).name, adabn)) or real(f, m, *a, adabn=adabn, **k))
    cfg = decoder.DecodeConfig(lm_weight=5)
    out = list(decoder.decode_fmllr_dir(sat_exp / "ftest", tmp_path / "tdnn", TONES / "lm.arpa", cfg, "cpu",
                                        sat_exp / "tri", rounds=1, adabn=True))
    assert calls == [("tri", False), ("tdnn", True)]
    assert out[-1][1]["passes"] == 2 and all(hyps for _, hyps in out[:-1])
    r = cli("asr", "decode", sat_exp / "ftest", sat_exp / "sat", "--lm", TONES / "lm.arpa", "--fmllr",
            "--adabn", "-O", tmp_path / "hyp_gmm")
    assert r.exit_code == 1 and "--adabn" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hyp_gmm").exists()


def test_fmllr_decoding_at_several_lm_weights_equals_one_run_per_weight(cli, sat_exp, tmp_path):
    """--fmllr with several LM weights: one shared first pass, then each weight's own
    transforms and passes give what a decode at that weight alone gives."""
    weights = ["0", "5", "40"]
    r = cli("asr", "decode", sat_exp / "ftest", sat_exp / "sat", "--lm", TONES / "lm.arpa", "--fmllr",
            "--nbest", 2, "--lm-weight", ",".join(weights), "-O", tmp_path / "hyp{lm_weight}",
            "--nbest-out", tmp_path / "nbest{lm_weight}", "--json")
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["lm_weight"] for x in recs] == [0.0, 5.0, 40.0] and all(x["passes"] == 3 for x in recs)
    for w, rec in zip(weights, recs, strict=True):
        r = cli("asr", "decode", sat_exp / "ftest", sat_exp / "sat", "--lm", TONES / "lm.arpa", "--fmllr",
                "--nbest", 2, "--lm-weight", w, "-O", tmp_path / "one", "--nbest-out", tmp_path / "one_nbest",
                "--json")
        assert r.exit_code == 0, r.stderr
        alone = json.loads(r.stdout)
        assert alone["fmllr"] == rec["fmllr"], w  # the same transforms were estimated
        assert (tmp_path / f"hyp{w}").read_text() == (tmp_path / "one").read_text()
        assert (tmp_path / f"nbest{w}").read_text() == (tmp_path / "one_nbest").read_text()
    assert (tmp_path / "nbest0").read_text() != (tmp_path / "nbest40").read_text()

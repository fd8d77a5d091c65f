"""Hybrid DNN-HMM on the synthetic `tones` corpus: scaled likelihoods against hand
computations, training through the GMM alignments, decoding, transcribe, model dir round
trip, int8 quantization and bad inputs."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from speechlang.asr.alignfile import read_alignments
from speechlang.asr.dnn import (
    DenominatorGraph,
    DNNModel,
    SpecAugment,
    SpectralScale,
    SpectralShift,
    SplicedNet,
    UnfoldLinear,
    _split,
    chunk_batch,
    count_priors,
    mmi_loss,
    pad_utterance,
    quantize_net,
    read_dnn,
    scaled_loglik,
    splice,
    task_logits,
)
from speechlang.asr.featfile import read_feats
from speechlang.asr.features import FeatureConfig, add_deltas, dct_matrix, lifter_coeffs
from speechlang.asr.model import read_model

TONES = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones"
AUDIO = sorted((TONES / "audio" / "t1").glob("*.flac"))


@pytest.fixture(scope="module")
def exp(tmp_path_factory, run_ok):
    """features, mono, align (GMM pipeline), then a small DNN with the tones LM copied in."""
    out = tmp_path_factory.mktemp("tones_dnn")
    run_ok("asr", "features", TONES / "train", out / "ftrain")
    run_ok("asr", "features", TONES / "test", out / "ftest")
    run_ok("asr", "train-mono", out / "ftrain", TONES / "lexicon.txt", out / "mono",
           "--iters", 6, "--gaussians", 30)
    run_ok("asr", "align", out / "ftrain", out / "mono", out / "ali")
    run_ok("asr", "train-dnn", out / "ftrain", out / "ali", out / "mono", out / "dnn",
           "--hidden", 64, "--layers", 2, "--epochs", 4, "--lm", TONES / "lm.arpa", "--lm-weight", 5)
    return out


def test_priors_and_scaled_likelihoods_by_hand():
    pri = count_priors(np.array([0, 0, 1, 2, 0]), 4)  # counts 3 1 1 0, +1 each, total 9
    np.testing.assert_allclose(pri, [4 / 9, 2 / 9, 2 / 9, 1 / 9])
    post = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    got = scaled_loglik(np.log(post), np.log(pri), 0.5)
    want = [[0.5 * np.log(0.7 / (4 / 9)), 0.5 * np.log(0.1 / (2 / 9)), 0.5 * np.log(0.1 / (2 / 9)),
             0.5 * np.log(0.1 / (1 / 9))],
            [0.5 * np.log(0.25 * 9 / 4), 0.5 * np.log(0.25 * 9 / 2), 0.5 * np.log(0.25 * 9 / 2),
             0.5 * np.log(0.25 * 9)]]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_splice_repeats_edge_frames():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)  # 4 frames, dim 3
    k = 2
    got = splice(torch.from_numpy(pad_utterance(x, k)), torch.arange(4) + k, k).numpy()
    for t in range(4):
        want = np.stack([x[min(max(t + j, 0), 3)] for j in range(-k, k + 1)])
        np.testing.assert_array_equal(got[t], want)


@pytest.mark.parametrize("arch", ["dnn", "tdnn"])
def test_model_loglik_is_log_posterior_minus_log_prior(arch):
    torch.manual_seed(0)
    net = SplicedNet(arch, 3, 3, 8, 2, 5).eval()
    priors = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    m = DNNModel(None, net, priors, {"context": 3, "acoustic_scale": 0.7}, Path("."))
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    got = m.loglik(x, chunk=4)  # chunking must not change anything
    windows = np.stack([np.stack([x[min(max(t + j, 0), 8)] for j in range(-3, 4)]) for t in range(9)])
    with torch.no_grad():
        logp = torch.log_softmax(net(torch.from_numpy(windows))[:, 0], -1).numpy()
    np.testing.assert_allclose(got, 0.7 * (logp - np.log(priors)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["dnn", "tdnn"])
def test_chunk_batch_equals_windows_of_its_frames(arch):
    """A training chunk gives each of its frames the logits of that frame's own window and
    that frame's target; frames past the utterance are ignored (-100)."""
    torch.manual_seed(0)
    k, L = 4, 6
    net = SplicedNet(arch, 3, k, 8, 3, 5).eval()
    lens = [9, 4]  # two utterances, padded one after the other as train-dnn lays them out
    rng = np.random.default_rng(0)
    utts = [rng.normal(size=(n, 3)).astype(np.float32) for n in lens]
    X = torch.from_numpy(np.concatenate([pad_utterance(x, k) for x in utts] + [np.zeros((L, 3), np.float32)]))
    first = [k, lens[0] + 3 * k]  # row of each utterance's first frame
    Y = torch.full((len(X) + L,), -100)
    for f, n in zip(first, lens, strict=True):
        Y[f:f + n] = torch.arange(n) % 5
    start, length = torch.tensor([first[0], first[0] + 6, first[1]]), torch.tensor([6, 3, 4])
    x, y = chunk_batch(X, Y, start, length, k, L)
    assert x.shape == (3, L + 2 * k, 3) and y.shape == (3, L)
    with torch.no_grad():
        got = net(x)
        for b in range(3):
            for j in range(L):
                if j >= length[b]:
                    assert y[b, j] == -100
                    continue
                c = int(start[b]) + j
                assert y[b, j] == Y[c] >= 0
                want = net(splice(X, torch.tensor([c]), k))[0, 0]
                torch.testing.assert_close(got[b, j], want, rtol=1e-5, atol=1e-5)


def test_denominator_graph_is_the_pdf_bigram_of_the_alignments():
    den = DenominatorGraph.from_alignments([np.array([0, 0, 1, 1, 2]), np.array([1, 2, 2, 0])], 4, floor=0.0)
    np.testing.assert_allclose(den.start.numpy(), count_priors(np.array([0, 0, 1, 1, 2, 1, 2, 2, 0]), 4))
    want = [[1 / 2, 1 / 2, 0, 0], [0, 1 / 3, 2 / 3, 0], [1 / 2, 0, 1 / 2, 0], [0, 0, 0, 1]]  # 3: never left
    np.testing.assert_allclose(den.trans.numpy(), want, rtol=1e-6)
    floored = DenominatorGraph.from_alignments([np.array([0, 0, 1, 1, 2])], 4)
    assert (floored.trans > 0).all() and torch.allclose(floored.trans.sum(1), torch.ones(4))


def test_mmi_loss_against_path_enumeration():
    """log sum over all P^n pdf paths minus the aligned path's score, per chunk; chunks
    shorter than L ignore their padding; the gradient matches finite differences."""
    P, L = 3, 4
    g = DenominatorGraph.from_alignments([np.array([0, 0, 1, 1, 2, 2, 0]), np.array([1, 2, 2, 0, 0, 1])], P,
                                         floor=0.0)
    den = DenominatorGraph(g.start.double(), g.trans.double())
    ll = torch.randn(3, L, P, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 3
    y = torch.tensor([[0, 1, 1, 2], [2, 0, -100, -100], [1, -100, -100, -100]])
    got = mmi_loss(ll, y, den)

    def score(b, path):
        return float(den.start[path[0]].log() + sum(ll[b, t, s] for t, s in enumerate(path))
                     + sum(den.trans[a, s].log() for a, s in zip(path[:-1], path[1:], strict=True)))
    for b in range(3):
        n = int((y[b] >= 0).sum())
        z = np.logaddexp.reduce([score(b, p) for p in itertools.product(range(P), repeat=n)])
        assert got[b] >= 0
        np.testing.assert_allclose(float(got[b]), z - score(b, y[b, :n].tolist()), rtol=1e-10)
    x = ll.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda v: mmi_loss(v, y, den), (x,))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the recursion stays in float32
        torch.testing.assert_close(mmi_loss(ll.float(), y, g), got.float(), rtol=1e-5, atol=1e-5)


def _spans(rows: list[list[int]], size: int) -> torch.Tensor:
    m = torch.zeros(len(rows), size, dtype=torch.bool)
    for b, idx in enumerate(rows):
        m[b, idx] = True
    return m


def test_spec_augment_of_a_full_cepstrum_is_the_mfcc_of_the_masked_log_mel():
    """With as many cepstra as mel bands (an invertible DCT) masking bands of MFCC + deltas
    equals computing them from the log-mel spectrum with those bands set to 0."""
    cfg = FeatureConfig(num_ceps=23, num_mel_bins=23, use_energy=False)
    aug = SpecAugment(cfg, freq_mask=3, time_mask=0, num_masks=1)
    mel = torch.randn(2, 30, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    dct, lif = dct_matrix(23, 23), lifter_coeffs(23, 22.0)

    def feats(m):  # (B, T, bins) log-mel -> (B, T, 69) MFCC + deltas + delta-deltas
        return torch.stack([add_deltas((x @ dct.T * lif).float()) for x in m])

    bands = _spans([[4, 5, 6], [20, 21]], 23)
    want = feats(mel.masked_fill(bands[:, None, :], 0.0))
    got = aug.mask(feats(mel), None, bands)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(aug.mask(feats(mel), None, _spans([[], []], 23)), feats(mel))


@pytest.mark.parametrize("kind", ["mfcc", "fbank"])
def test_spec_augment_masks_frames_and_bands_and_keeps_the_energy(kind):
    cfg = FeatureConfig(kind=kind)  # MFCC 13 with c0 = log energy; fbank 1 + 23
    aug = SpecAugment(cfg, freq_mask=4, time_mask=5, num_masks=2)
    x = torch.randn(3, 40, cfg.dim, generator=torch.Generator().manual_seed(1))
    static = x.shape[2] // 3
    frames, bands = _spans([[0, 1, 2], [], [10, 30]], 40), _spans([[3, 4], [0], []], 23)
    y = aug.mask(x, frames, bands)
    assert (y[frames] == 0).all() and (y[2, [10, 30]] == 0).all()
    kept = ~frames
    torch.testing.assert_close(y[2][kept[2]], x[2][kept[2]])  # no band masked in chunk 2
    torch.testing.assert_close(y[..., ::static][kept], x[..., ::static][kept])  # energies
    assert not torch.allclose(y[0][kept[0]], x[0][kept[0]])
    if kind == "fbank":  # bands 3, 4 of chunk 0 are columns 4, 5 of each block
        assert (y[0, :, [4, 5, 28, 29, 52, 53]] == 0).all()
    drawn = [aug(x, torch.Generator().manual_seed(7)) for _ in range(2)]
    torch.testing.assert_close(drawn[0], drawn[1])
    zero = (drawn[0] == 0).all(-1).sum(1)
    assert (zero <= 2 * 5).all()


def test_group_batches_keep_each_batch_within_one_group():
    from speechlang.accel import DistEnv, group_batches
    groups = np.repeat([0, 1, 2, 3], [10, 3, 7, 1])
    one = group_batches(groups, 4, epoch=0, seed=1, env=DistEnv())
    assert all(len(set(groups[b])) == 1 and len(b) <= 4 for b in one)
    assert sorted(np.concatenate(one)) == list(range(len(groups)))  # every item once
    assert len(one) == 3 + 1 + 2 + 1  # ceil(count / 4) per group
    again = group_batches(groups, 4, epoch=0, seed=1, env=DistEnv())
    assert all(np.array_equal(a, b) for a, b in zip(one, again, strict=True))
    other = group_batches(groups, 4, epoch=1, seed=1, env=DistEnv())
    assert not all(np.array_equal(a, b) for a, b in zip(one, other, strict=True))
    ranks = [group_batches(groups, 4, epoch=0, seed=1, env=DistEnv(rank=r, world_size=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3  # 7 batches: the same number on each rank
    items = np.concatenate(ranks[0] + ranks[1])
    assert len(set(items)) == len(items)  # disjoint


def test_speaker_batches_train_and_decode_with_adabn(cli, exp, tmp_path):
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "sb", "--arch", "tdnn",
            "--context", 4, "--hidden", 32, "--epochs", 6, "--speaker-batches", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["frame_acc"] >= rec["majority_acc"] + 0.3, rec
    # steps: per epoch, each speaker's chunks (32 frames) in batches of 8, the last one shorter
    spk = {line.split()[0]: line.split()[1] for line in (TONES / "train" / "utt2spk").read_text().splitlines()}
    ali, feats = read_alignments(exp / "ali"), read_feats(exp / "ftrain")
    ho = set(_split(ali.utts, 0.1)[1])
    chunks: dict[str, int] = {}
    for i, u in enumerate(ali.utts):
        if i not in ho:
            chunks[spk[u]] = chunks.get(spk[u], 0) - (-len(feats[u]) // 32)
    assert rec["steps"] == 6 * sum(-(-c // 8) for c in chunks.values())
    assert rec["steps"] > 6 * -(-sum(chunks.values()) // 8)  # more than with mixed batches
    hyp = tmp_path / "hyp"
    r = cli("asr", "decode", exp / "ftest", tmp_path / "sb", "--lm", TONES / "lm.arpa", "--lm-weight", 5,
            "--adabn", "-O", hyp)
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", hyp, "--json")
    assert json.loads(r.stdout)["wer"] <= 6.25


def test_frame_accuracy_well_above_majority_class(exp):
    meta = json.loads((exp / "dnn" / "dnn.json").read_text())
    hist = meta["train"]["history"]
    assert len(hist) == 4 and all("frame_acc" in h for h in hist)  # reported every epoch
    assert meta["train"]["best_frame_acc"] >= meta["train"]["heldout_majority_acc"] + 0.3, meta["train"]
    pri = np.load(exp / "dnn" / "priors.npy")
    ali = np.load(exp / "ali" / "ali.npz")
    np.testing.assert_allclose(pri, count_priors(ali["pdf"], len(pri)))


def _wer(cli, exp: Path, *extra, model: str = "dnn") -> dict:
    hyp = exp / f"hyp_{model}{len(extra)}"
    r = cli("asr", "decode", exp / "ftest", exp / model, "--lm-weight", "5", "-O", hyp, *extra)
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", hyp, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_decode_with_dnn_and_int8(cli, exp):
    assert _wer(cli, exp)["wer"] <= 6.25  # at most one error in 16 words
    assert _wer(cli, exp, "--quantize")["wer"] <= 6.25


@pytest.mark.parametrize("kernel, dilation", [(3, 1), (3, 2), (5, 3), (1, 1)])
def test_unfold_linear_equals_the_convolution(kernel, dilation):
    torch.manual_seed(kernel + dilation)
    conv = torch.nn.Conv1d(6, 4, kernel, dilation=dilation)
    x = torch.randn(2, 6, 20)
    y = UnfoldLinear(conv)(x)
    assert y.shape == (2, 4, 20 - dilation * (kernel - 1))
    torch.testing.assert_close(y, conv(x), atol=1e-5, rtol=1e-5)


def test_quantized_tdnn_has_no_float_convolution_and_keeps_its_outputs():
    torch.manual_seed(0)
    net = SplicedNet("tdnn", 13, 4, 32, 3, 10).eval()
    q = quantize_net(net)
    assert not any(isinstance(m, torch.nn.Conv1d) for m in q.modules())
    int8 = [m for m in q.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(int8) == sum(isinstance(m, torch.nn.Conv1d) for m in net.modules()) + 1  # + the output layer
    x = torch.randn(3, 40, 13)
    y, yq = net(x), q(x)
    assert yq.shape == y.shape
    assert (yq - y).abs().max() < 0.05 * y.abs().max()  # int8 rounding, not a different function
    assert any(isinstance(m, torch.nn.Conv1d) for m in net.modules())  # the float net is untouched


@pytest.fixture(scope="module")
def tdnn(exp, run_ok):
    """A small TDNN on the same alignments, with the tones LM."""
    run_ok("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", exp / "tdnn", "--arch", "tdnn",
           "--context", 4, "--hidden", 32, "--epochs", 6, "--lm", TONES / "lm.arpa", "--lm-weight", 5)
    return exp / "tdnn"


def test_tdnn_trains_above_majority(tdnn):
    rec = json.loads((tdnn / "dnn.json").read_text())["train"]
    assert rec["best_frame_acc"] >= rec["heldout_majority_acc"] + 0.3, rec


def test_mmi_fine_tuning_from_a_trained_tdnn(cli, exp, tdnn, tmp_path):
    """--init copies the network (its shape too); --objective mmi lowers the held-out MMI
    loss it monitors below the starting network's, and the result decodes."""
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "mmi", "--init", tdnn,
            "--objective", "mmi", "--epochs", 3, "--lr", 3e-4, "--lm", TONES / "lm.arpa", "--json")
    assert r.exit_code == 0, r.stderr
    meta = json.loads((tmp_path / "mmi" / "dnn.json").read_text())
    t = meta["train"]
    assert (meta["arch"], meta["hidden"], meta["context"]) == ("tdnn", 32, 4)  # from --init
    assert t["config"]["objective"] == "mmi" and t["loop"]["monitor"] == "heldout_mmi"
    best = t["history"][t["best_epoch"] - 1]
    assert best["heldout_mmi"] < t["init_eval"]["heldout_mmi"], (best, t["init_eval"])
    assert json.loads(r.stdout)["frame_acc"] == best["frame_acc"]
    shutil.copytree(tmp_path / "mmi", exp / "mmi", dirs_exist_ok=True)
    assert _wer(cli, exp, model="mmi")["wer"] <= 6.25
    for args, msg in (((), "--objective"), (("--init", tmp_path / "none"), "no such model dir"),
                      (("--init", tdnn, "--fmllr"), "--fmllr")):
        r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
                "--objective", "mmi" if args else "smbr", *args)
        assert r.exit_code == 1 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "bad" / "dnn.json").exists()


def test_adabn_normalizes_each_batchnorm_over_the_adaptation_frames():
    """After adapt_batchnorm, every BatchNorm's outputs over the adaptation utterances have
    per-channel mean = its bias and variance = its weight^2 (the earlier layers adapted
    first); None puts the trained statistics back."""
    torch.manual_seed(0)
    net = SplicedNet("tdnn", 3, 4, 8, 3, 5)
    bns = [m for m in net.body if isinstance(m, torch.nn.BatchNorm1d)]
    for b in bns:  # trained-looking statistics and affine parameters far from the defaults
        b.running_mean.uniform_(-1, 1), b.running_var.uniform_(0.5, 2)
        b.weight.data.uniform_(0.5, 2), b.bias.data.uniform_(-1, 1)
    net.eval()
    rng = np.random.default_rng(1)
    utts = [torch.from_numpy((3 + 2 * rng.normal(size=(n, 3))).astype(np.float32)) for n in (20, 31)]
    with torch.no_grad():
        before = [net(x[None]) for x in utts]
    net.adapt_batchnorm(utts)
    ins, outs = {i: [] for i in range(len(bns))}, {i: [] for i in range(len(bns))}

    def record(j, inputs, output):  # (1, channels, frames) each
        ins[j].append(inputs[0][0])
        outs[j].append(output[0])

    hooks = [b.register_forward_hook(lambda m, i, o, j=j: record(j, i, o)) for j, b in enumerate(bns)]
    with torch.no_grad():
        for x in utts:
            net(x[None])
    for h in hooks:
        h.remove()
    for j, b in enumerate(bns):
        y = torch.cat(outs[j], dim=1)  # (channels, frames of both utterances)
        live = torch.cat(ins[j], dim=1).var(1) > 1e-4  # ReLU channels that are not always 0
        assert live.sum() >= 5
        torch.testing.assert_close(y.mean(1), b.bias.data, atol=1e-4, rtol=0)
        torch.testing.assert_close(y.var(1, unbiased=False)[live], b.weight.data[live] ** 2,
                                   atol=2e-3, rtol=2e-3)
    net.adapt_batchnorm(None)
    with torch.no_grad():
        for x, want in zip(utts, before, strict=True):
            torch.testing.assert_close(net(x[None]), want, rtol=0, atol=0)


def test_decode_adabn_adapts_to_each_speaker(tdnn, exp, tmp_path, monkeypatch):
    """decode --adabn scores each utterance with the statistics of its own speaker's
    utterances (utt2spk); one speaker per utterance gives other likelihoods than one for all."""
    from speechlang.asr import decoder
    seen = []
    real = decoder.decode_utterance
    monkeypatch.setattr(decoder, "decode_utterance", lambda g, ll, cfg: seen.append(ll) or real(g, ll, cfg))
    one_each = tmp_path / "ftest"  # the same features, every utterance its own speaker
    shutil.copytree(exp / "ftest", one_each)
    utts = read_feats(exp / "ftest").utts()
    for name in ("utt2spk", "spk2utt"):
        (one_each / name).write_text("".join(f"{u} {u}\n" for u in utts))
    m = read_dnn(tdnn)
    feats = read_feats(exp / "ftest")
    got = []
    for fdir, groups in ((exp / "ftest", [utts]), (one_each, [[u] for u in utts])):
        seen.clear()
        list(decoder.decode_dir(fdir, tdnn, TONES / "lm.arpa", decoder.DecodeConfig(lm_weight=5), "cpu",
                                adabn=True))
        got.append(dict(zip(utts, seen, strict=True)))
        for group in groups:
            m.adapt_batchnorm([feats[u] for u in group])
            for u in group:
                np.testing.assert_allclose(got[-1][u], m.loglik(feats[u]), rtol=1e-5, atol=1e-4)
    assert not np.allclose(got[0][utts[0]], got[1][utts[0]], atol=1e-3)


def test_adabn_decode_and_transcribe(cli, exp, tdnn):
    assert _wer(cli, exp, "--adabn", model="tdnn")["wer"] <= 6.25
    assert _wer(cli, exp, "--adabn", "--quantize", model="tdnn")["wer"] <= 6.25
    ref = dict(line.split(maxsplit=1) for line in (TONES / "test" / "text").read_text().splitlines())
    lines = [line.split("\t") for line in _transcribe(cli, tdnn, *AUDIO, "--adabn").splitlines()]
    assert sum(w != ref[Path(p).stem] for p, w in lines) <= 1
    for cmd in (["decode", exp / "ftest", exp / "dnn", "--adabn"],  # feed-forward: no BatchNorm
                ["transcribe", "--model", exp / "dnn", "--adabn", AUDIO[0]]):
        r = cli("asr", *cmd)
        assert r.exit_code == 1 and "--adabn" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr


def _transcribe(cli, model: Path, *args, input=None):
    r = cli("asr", "transcribe", "--model", model, *args, input=input)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_transcribe_and_model_dir_round_trip(cli, exp, tmp_path):
    ref = dict(line.split(maxsplit=1) for line in (TONES / "test" / "text").read_text().splitlines())
    out = _transcribe(cli, exp / "dnn", *AUDIO, "--ctm", tmp_path / "a.ctm")
    lines = [line.split("\t") for line in out.splitlines()]
    assert [p for p, _ in lines] == [str(a) for a in AUDIO]
    errors = sum(w != ref[Path(p).stem] for p, w in lines)
    assert errors <= 1, out
    ctm = (tmp_path / "a.ctm").read_text().split("\n")
    assert {line.split()[4] for line in ctm if line} <= {"ba", "di", "ko", "mu"}
    # a copy elsewhere (without the training checkpoints) gives identical transcripts
    copy = tmp_path / "elsewhere" / "model"
    shutil.copytree(exp / "dnn", copy, ignore=shutil.ignore_patterns("ckpt"))
    out2 = _transcribe(cli, copy, input="".join(f"{a}\n" for a in AUDIO))  # list on stdin
    assert out2 == out
    (tmp_path / "list.txt").write_text("".join(f"{a}\n" for a in AUDIO[1:]))
    assert _transcribe(cli, copy, AUDIO[0], "-i", tmp_path / "list.txt") == out  # arguments, then the list
    assert (tmp_path / "elsewhere" / "model" / "lm.arpa").is_file()


def test_transcribe_resamples_other_rates(cli, exp, tmp_path):
    x, sr = soundfile.read(AUDIO[1])
    soundfile.write(tmp_path / "a48k.wav", np.repeat(x, 3), sr * 3)  # sample-and-hold to 48 kHz
    r = cli("asr", "transcribe", "--model", exp / "dnn", tmp_path / "a48k.wav")
    assert r.exit_code == 0, r.stderr
    assert "resampling to 16000 Hz" in r.stderr
    assert r.stdout.split("\t")[1].split() == ["ko", "di", "di", "di"]


def test_bad_inputs(cli, exp, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(exp / "dnn", copy, ignore=shutil.ignore_patterns("ckpt"))
    (copy / "priors.npy").unlink()
    r = cli("asr", "transcribe", "--model", copy, AUDIO[0], "-O", tmp_path / "out.txt")
    assert r.exit_code == 1 and "priors.npy" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "out.txt").exists()
    (copy / "lm.arpa").unlink()
    shutil.copy(exp / "dnn" / "priors.npy", copy / "priors.npy")
    r = cli("asr", "transcribe", "--model", copy, AUDIO[0])
    assert r.exit_code == 1 and "lm.arpa" in r.stderr
    soundfile.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    r = cli("asr", "transcribe", "--model", exp / "dnn", AUDIO[0], tmp_path / "empty.wav",
            "-O", tmp_path / "out.txt")
    assert r.exit_code == 1 and "empty" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "out.txt").exists()
    r = cli("asr", "transcribe", "--model", exp / "dnn", tmp_path / "missing.wav")
    assert r.exit_code == 1 and "missing.wav" in r.stderr


def test_read_dnn_rejects_mismatched_priors(exp, tmp_path):
    from speechlang.errors import FormatError
    copy = tmp_path / "model"
    shutil.copytree(exp / "dnn", copy, ignore=shutil.ignore_patterns("ckpt"))
    np.save(copy / "priors.npy", np.ones(3) / 3)
    with pytest.raises(FormatError, match="number of pdfs"):
        read_dnn(copy)


def test_resume_of_a_finished_run_keeps_the_model(cli, exp, tmp_path):
    copy = tmp_path / "dnn"
    shutil.copytree(exp / "dnn", copy)
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", copy, "--hidden", 64,
            "--layers", 2, "--epochs", 4, "--resume", "--lm", TONES / "lm.arpa", "--lm-weight", 5)
    assert r.exit_code == 0, r.stderr
    assert "resumed from" in r.stderr
    a, b = read_dnn(exp / "dnn").net.state_dict(), read_dnn(copy).net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_realign_trains_a_second_pass(cli, exp, tmp_path):
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "dnn2",
            "--hidden", 64, "--layers", 2, "--epochs", 3, "--realign", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    from speechlang.asr.alignfile import read_alignments
    ali = read_alignments(tmp_path / "dnn2" / "realign_ali")
    assert len(ali) == rec["realign"]["utts"] >= 20
    assert rec["frame_acc"] >= rec["majority_acc"] + 0.3, rec
    assert (tmp_path / "dnn2" / "ckpt2" / "checkpoint_best.pt").is_file()
    meta = json.loads((tmp_path / "dnn2" / "dnn.json").read_text())
    assert meta["train"]["ali"].endswith("realign_ali") and "pass1" in meta["train"]


def test_train_dnn_bad_options_and_mismatched_dirs(cli, exp, tmp_path):
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "x",
            "--arch", "rnn")
    assert r.exit_code == 1 and "--arch" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("asr", "train-dnn", exp / "ftest", exp / "ali", exp / "mono", tmp_path / "x")
    assert r.exit_code == 1 and "is not in" in r.stderr  # alignments of other utterances
    assert not (tmp_path / "x" / "dnn.json").exists()
    r = cli("asr", "decode", exp / "ftest", exp / "mono", "-O", tmp_path / "hyp")
    assert r.exit_code == 1 and "--lm" in r.stderr  # a GMM dir holds no LM


def test_training_twice_gives_identical_weights(cli, exp, tmp_path):
    for name in ("a", "b"):
        r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / name,
                "--hidden", 32, "--layers", 1, "--epochs", 2)
        assert r.exit_code == 0, r.stderr
    a, b = read_dnn(tmp_path / "a").net.state_dict(), read_dnn(tmp_path / "b").net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_extra_feature_views_train_on_every_view(cli, run_ok, exp, tmp_path):
    """--extra-feats (VTLN-warped copies) multiplies the training frames; the held-out frames
    stay those of FEAT_DIR; a view with other utterances or frame counts is refused."""
    run_ok("asr", "features", TONES / "train", tmp_path / "w09", "--vtln-warp", 0.9)
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "aug",
            "--hidden", 32, "--layers", 1, "--epochs", 1, "--extra-feats", tmp_path / "w09", "--json")
    assert r.exit_code == 0, r.stderr
    one = json.loads((exp / "dnn" / "dnn.json").read_text())["train"]
    two = json.loads(r.stdout)
    assert two["train_frames"] == 2 * one["train_frames"]
    assert two["heldout_frames"] == one["heldout_frames"]
    assert not np.allclose(*(np.load(tmp_path / "w09" / "feats.npy", mmap_mode="r")[:50],
                             np.load(exp / "ftrain" / "feats.npy", mmap_mode="r")[:50]))
    run_ok("asr", "features", TONES / "train", tmp_path / "short", "--delta-order", 1)
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
            "--extra-feats", tmp_path / "short")
    assert r.exit_code == 1 and "delta_order" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
            "--extra-feats", exp / "ftest")
    assert r.exit_code == 1 and "is not in" in r.stderr
    assert not (tmp_path / "bad" / "dnn.json").exists()


def test_speed_perturbed_views_train_on_their_own_alignment(cli, run_ok, exp, tmp_path):
    """--extra-ali pairs each --extra-feats with its alignment: speed-perturbed copies (other
    frame counts) aligned by the same GMM add their frames, held-out utterances excepted."""
    run_ok("asr", "features", TONES / "train", tmp_path / "sp", "--speed", 1.1)
    run_ok("asr", "align", tmp_path / "sp", exp / "mono", tmp_path / "sp_ali")
    small = ("--hidden", 32, "--layers", 1, "--epochs", 1)
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "aug", *small,
            "--extra-feats", tmp_path / "sp", "--extra-ali", tmp_path / "sp_ali", "--json")
    assert r.exit_code == 0, r.stderr
    one = json.loads((exp / "dnn" / "dnn.json").read_text())["train"]
    two = json.loads(r.stdout)
    ali, sp_ali = read_alignments(exp / "ali"), read_alignments(tmp_path / "sp_ali")
    ho = {ali.utts[i] for i in _split(ali.utts, 0.1)[1]}
    assert two["train_frames"] == one["train_frames"] + sum(len(sp_ali[u].pdf) for u in sp_ali.utts
                                                            if u not in ho)
    assert two["heldout_frames"] == one["heldout_frames"]
    sp = read_feats(tmp_path / "sp")
    assert sum(len(sp[u]) for u in sp.utts()) < 0.95 * sum(len(ali[u].pdf) for u in ali.utts)
    for extra in ((), ("--extra-ali", exp / "ali")):  # speed-perturbed frames on ALI's alignment
        r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad", *small,
                "--extra-feats", tmp_path / "sp", *extra)
        assert r.exit_code == 1 and "aligned frames" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad", *small,
            "--extra-feats", tmp_path / "sp", "--extra-feats", tmp_path / "sp",
            "--extra-ali", tmp_path / "sp_ali")
    assert r.exit_code == 1 and "one alignment per extra feature dir" in r.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("arch", ["dnn", "tdnn"])
def test_dropout_keeps_the_layers_and_is_off_in_eval(arch):
    torch.manual_seed(0)
    plain, drop = SplicedNet(arch, 3, 4, 16, 3, 5), SplicedNet(arch, 3, 4, 16, 3, 5, dropout=0.5)
    weights = (torch.nn.Linear, torch.nn.Conv1d)
    assert ([type(m) for m in plain.modules() if isinstance(m, weights)]
            == [type(m) for m in drop.modules() if isinstance(m, weights)])
    assert sum(isinstance(m, torch.nn.Dropout) for m in drop.modules()) == 3 if arch == "dnn" else 1
    x = torch.randn(6, 9, 3)
    drop.train()
    assert not torch.equal(drop(x), drop(x))
    drop.eval()
    assert torch.equal(drop(x), drop(x))


def _train_small(cli, exp: Path, out: Path, *opts) -> dict:
    """train-dnn 2 x 64 for 4 epochs on the tones with `opts`; it must beat the majority class."""
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", out,
            "--hidden", 64, "--layers", 2, "--epochs", 4, *opts, "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["frame_acc"] >= rec["majority_acc"] + 0.3, rec
    return rec


def test_train_dnn_with_dropout_and_weight_decay(cli, exp, tmp_path):
    _train_small(cli, exp, tmp_path / "d", "--dropout", 0.2, "--weight-decay", 0.1)
    m = read_dnn(tmp_path / "d")
    assert m.meta["dropout"] == 0.2 and not m.net.training
    x = np.random.default_rng(0).normal(size=(20, m.meta["input_dim"])).astype(np.float32)
    np.testing.assert_array_equal(m.loglik(x), m.loglik(x))
    base = read_dnn(exp / "dnn").net.state_dict()
    names = [k for k in m.net.state_dict() if k.endswith("weight")]
    assert len(names) == sum(k.endswith("weight") for k in base)  # same layers, other indices
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
            "--dropout", 1.0)
    assert r.exit_code == 1 and "--dropout" in r.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("energy", [False, True])
def test_spectral_shift_of_a_full_cepstrum_is_the_mfcc_of_the_shifted_log_mel(energy):
    """With as many cepstra as mel bands, adding the coefficients a (B, T, 22) to MFCC + deltas
    equals computing them from the log-mel spectrum plus the curve a D[1:] (c0 or the energy
    is left as is)."""
    cfg = FeatureConfig(num_ceps=23, num_mel_bins=23, use_energy=energy)
    shift = SpectralShift(cfg, db=6.0, mean_frames=5)
    g = torch.Generator().manual_seed(0)
    mel, log_e = torch.randn(2, 30, 23, dtype=torch.float64, generator=g), torch.randn(2, 30, generator=g)
    a = 0.3 * torch.randn(2, 30, 22, dtype=torch.float64, generator=g)
    dct, lif = dct_matrix(23, 23), lifter_coeffs(23, 22.0)

    def feats(m):  # (B, T, bins) log-mel -> (B, T, 69) MFCC + deltas + delta-deltas
        c = m @ dct.T * lif
        if energy:
            c[..., 0] = log_e
        return torch.stack([add_deltas(x.float()) for x in c])

    got = shift.shift(feats(mel), (a * lif[1:]).float())
    torch.testing.assert_close(got, feats(mel + a @ dct[1:]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", ["mfcc", "fbank"])
def test_spectral_shift_draws_segments_and_curves_of_the_asked_size(kind):
    cfg = FeatureConfig(kind=kind)  # MFCC 13 with c0 = log energy; fbank 1 + 23
    shift = SpectralShift(cfg, db=3.0, mean_frames=8)
    r = shift.track(4000, 40, torch.Generator().manual_seed(2))
    if kind == "mfcc":  # back to the log-mel curve
        r = r / lifter_coeffs(13, 22.0)[1:].float() @ dct_matrix(13, 23)[1:].float()
    rms_db = 10 / math.log(10) * r.double().pow(2).mean(-1).mean().sqrt()
    assert abs(float(rms_db) - 3.0) < 0.05
    assert r.mean(-1).abs().max() < 1e-5  # shape only: the curves have no level
    cuts = (r[:, 1:] != r[:, :-1]).any(-1)  # piecewise constant, cut with probability 1/8
    assert abs(float(cuts.double().mean()) - 1 / 8) < 0.005
    x = torch.randn(3, 40, cfg.dim, generator=torch.Generator().manual_seed(1))
    y = [shift(x, torch.Generator().manual_seed(7)) for _ in range(2)]
    torch.testing.assert_close(y[0], y[1])
    static = cfg.static_dim
    torch.testing.assert_close(y[0][..., ::static], x[..., ::static])  # energies left
    assert (y[0] - x)[..., 1:static].abs().min() > 0


@pytest.mark.parametrize("kind", ["mfcc", "fbank"])
def test_spectral_scale_is_the_features_of_the_flattened_log_mel(kind):
    """Scaling chunk b by alpha[b] equals computing MFCC (as many cepstra as bands) or fbank
    + deltas from each frame's log-mel spectrum m flattened to alpha m + (1 - alpha) mean(m)."""
    cfg = FeatureConfig(kind=kind, num_ceps=23, num_mel_bins=23, use_energy=False)
    scale = SpectralScale(cfg, 0.5, 2.0)
    mel = torch.randn(2, 30, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    alpha = torch.tensor([0.6, 1.5])
    dct, lif = dct_matrix(23, 23), lifter_coeffs(23, 22.0)

    def feats(m):  # (B, T, bins) log-mel -> (B, T, 69) MFCC or fbank + deltas + delta-deltas
        return torch.stack([add_deltas((x @ dct.T * lif if kind == "mfcc" else x).float()) for x in m])

    a = alpha.double()[:, None, None]
    want = feats(a * mel + (1 - a) * mel.mean(-1, keepdim=True))
    torch.testing.assert_close(scale.scale(feats(mel), alpha), want, atol=1e-4, rtol=1e-4)


def test_spectral_scale_draws_log_uniform_factors_and_keeps_the_energy():
    cfg = FeatureConfig()  # MFCC 13 with c0 = log energy
    scale = SpectralScale(cfg, 0.5, 2.0)
    x = torch.randn(4000, 3, cfg.dim, generator=torch.Generator().manual_seed(1))
    y = scale(x, torch.Generator().manual_seed(7))
    torch.testing.assert_close(y, scale(x, torch.Generator().manual_seed(7)))
    torch.testing.assert_close(y[..., ::13], x[..., ::13])
    alpha = (y[..., 1:13] / x[..., 1:13]).flatten(1)
    torch.testing.assert_close(alpha, alpha[:, :1].expand_as(alpha))  # one factor per chunk
    log_a = alpha[:, 0].log()
    assert 0.5 - 1e-5 <= float(alpha.min()) and float(alpha.max()) <= 2.0 + 1e-5
    assert abs(float(log_a.mean())) < 0.03 and abs(float(log_a.std()) - math.log(4) / 12 ** 0.5) < 0.02


def test_train_dnn_with_spec_augment(cli, exp, tmp_path):
    _train_small(cli, exp, tmp_path / "s", "--freq-mask", 3, "--time-mask", 3, "--spec-shift", 2,
                 "--spec-scale", 0.7, 1.2)
    conf = read_dnn(tmp_path / "s").meta["train"]["config"]
    assert (conf["freq_mask"], conf["time_mask"], conf["num_masks"]) == (3, 3, 2)
    assert (conf["spec_shift"], conf["shift_frames"], conf["spec_scale"]) == (2.0, 10, [0.7, 1.2])
    base, aug = read_dnn(exp / "dnn").net.state_dict(), read_dnn(tmp_path / "s").net.state_dict()
    assert not torch.equal(base["out.weight"], aug["out.weight"])
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
            "--fmllr", "--freq-mask", 3)
    assert r.exit_code == 1 and "--freq-mask" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
            "--fmllr", "--spec-shift", 2)
    assert r.exit_code == 1 and "--spec-shift" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("asr", "train-dnn", exp / "ftrain", exp / "ali", exp / "mono", tmp_path / "bad",
            "--spec-scale", 1.2, 0.7)
    assert r.exit_code == 1 and "--spec-scale 1.2 0.7" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_dnn_on_other_features_than_its_gmm(cli, run_ok, exp, tmp_path):
    """The network may read fbank while the GMM that aligned the data reads MFCC: the model
    dir then decodes and transcribes fbank, and MFCC features are refused."""
    for part, name in (("train", "fb_train"), ("test", "fb_test")):
        run_ok("asr", "features", TONES / part, tmp_path / name, "--kind", "fbank",
               "--num-mel-bins", 20, "--no-energy")
    r = cli("asr", "train-dnn", tmp_path / "fb_train", exp / "ali", exp / "mono", tmp_path / "fb",
            "--hidden", 64, "--layers", 2, "--epochs", 4, "--lm", TONES / "lm.arpa", "--lm-weight", 5,
            "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["frame_acc"] >= rec["majority_acc"] + 0.3, rec
    assert read_dnn(tmp_path / "fb").features["kind"] == "fbank"
    assert json.loads((tmp_path / "fb" / "model.json").read_text())["features"]["kind"] == "mfcc"
    r = cli("asr", "decode", tmp_path / "fb_test", tmp_path / "fb", "-O", tmp_path / "hyp")
    assert r.exit_code == 0, r.stderr
    r = cli("asr", "score", TONES / "test" / "text", tmp_path / "hyp", "--json")
    assert json.loads(r.stdout)["wer"] <= 12.5
    out = _transcribe(cli, tmp_path / "fb", *AUDIO)
    ref = dict(line.split(maxsplit=1) for line in (TONES / "test" / "text").read_text().splitlines())
    assert sum(w != ref[Path(p).stem] for p, w in (line.split("\t") for line in out.splitlines())) <= 2
    r = cli("asr", "decode", exp / "ftest", tmp_path / "fb", "-O", tmp_path / "hyp2")
    assert r.exit_code == 1 and "kind='mfcc'" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "hyp2").exists()
    r = cli("asr", "align", tmp_path / "fb_train", exp / "mono", tmp_path / "ali2")  # a GMM on fbank
    assert r.exit_code == 1 and "kind='fbank'" in r.stderr and not (tmp_path / "ali2").exists()


def test_realign_maps_words_missing_from_the_lexicon_or_fails_first(cli, exp, tmp_path):
    feats = tmp_path / "ftrain"
    shutil.copytree(exp / "ftrain", feats)
    lines = (feats / "text").read_text().splitlines()
    utt, *words = lines[0].split()
    lines[0] = " ".join([utt, "zz", *words[1:]])  # an unknown word where words[0] was said
    (feats / "text").write_text("\n".join(lines) + "\n")
    args = ("asr", "train-dnn", feats, exp / "ali", exp / "mono", tmp_path / "d", "--hidden", 16,
            "--layers", 1, "--epochs", 1, "--realign")
    r = cli(*args)
    assert r.exit_code == 1 and "'zz'" in r.stderr and "--oov-word" in r.stderr
    assert not (tmp_path / "d").exists()  # refused before the first pass
    r = cli(*args, "--oov-word", words[0], "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["realign"]["utts"] == len(lines)


def _small_tdnn(cli, d: Path, ali: str, gmm: str, out: Path, *args):
    """train-dnn of a +-4 frame, 32-channel TDNN on the tones_tri dir d's training features."""
    return cli("asr", "train-dnn", d / "ftrain", d / ali, d / gmm, out, "--arch", "tdnn", "--context", 4,
               "--hidden", 32, *args)


def _refused(r, msg: str, out: Path) -> None:
    """One error line naming msg, exit 1, no model written."""
    assert r.exit_code == 1 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (out / "dnn.json").exists()


def test_transfer_starts_from_the_hidden_layers_of_a_model_of_other_pdfs(cli, tones_tri, tmp_path):
    """--init --transfer: a TDNN of the monophone states starts the network of the triphone
    states. Its input normalization and hidden layers are copied (a near-zero learning rate
    keeps them), the output layer is new, and training from there learns the new states.
    Without --transfer, or --transfer without --init: one error line."""
    d = tones_tri

    def train(ali, gmm, out, *args):
        return _small_tdnn(cli, d, ali, gmm, tmp_path / out, *args)
    assert train("ali", "mono", "src", "--epochs", 4).exit_code == 0
    src = read_dnn(tmp_path / "src")
    for args, msg in ((("--init", tmp_path / "src"), "--transfer"), (("--transfer",), "--init")):
        _refused(train("tri_ali", "tri", "bad", *args), msg, tmp_path / "bad")
    assert train("tri_ali", "tri", "kept", "--init", tmp_path / "src", "--transfer", "--epochs", 1,
                 "--lr", 1e-9).exit_code == 0
    kept = read_dnn(tmp_path / "kept")
    assert kept.meta["num_pdfs"] != src.meta["num_pdfs"] == len(src.priors)
    assert kept.net.out.out_features == kept.meta["num_pdfs"] == len(kept.priors)
    want = dict(src.net.named_parameters())
    for name, p in kept.net.named_parameters():
        if not name.startswith("out."):
            torch.testing.assert_close(p, want[name], rtol=0, atol=1e-6)
    for name in ("mean", "inv_std"):
        torch.testing.assert_close(getattr(kept.net, name), getattr(src.net, name), rtol=0, atol=0)
    assert train("tri_ali", "tri", "xfer", "--init", tmp_path / "src", "--transfer", "--epochs", 6).exit_code == 0
    rec = json.loads((tmp_path / "xfer" / "dnn.json").read_text())["train"]
    assert rec["init_eval"]["frame_acc"] < rec["heldout_majority_acc"] + 0.1 < rec["best_frame_acc"] - 0.3, rec


def test_freeze_keeps_the_lower_layers_of_the_init_model(cli, tones_tri, tmp_path):
    """--freeze N with --init: the first N hidden layers keep the source's weights exactly while
    the layers above and the new output layer train. --freeze without --init, or beyond the
    source's hidden layers: one error line, no model."""
    d = tones_tri

    def train(ali, gmm, out, *args):
        return _small_tdnn(cli, d, ali, gmm, tmp_path / out, *args)
    assert train("ali", "mono", "src", "--epochs", 2).exit_code == 0
    src = read_dnn(tmp_path / "src")
    hidden = src.net.hidden_layers  # 3 convolutions for +-4 frames
    for args, msg in ((("--freeze", 1), "--init"),
                      (("--init", tmp_path / "src", "--transfer", "--freeze", hidden + 1), f"{hidden} hidden")):
        _refused(train("tri_ali", "tri", "bad", *args), msg, tmp_path / "bad")
    n = hidden - 1
    assert train("tri_ali", "tri", "frozen", "--init", tmp_path / "src", "--transfer", "--freeze", n,
                 "--epochs", 6).exit_code == 0
    frozen, want = read_dnn(tmp_path / "frozen"), dict(src.net.named_parameters())
    for name, p in frozen.net.named_parameters():
        if name.startswith("body.") and int(name.split(".")[1]) < n * src.net.per_layer:
            torch.testing.assert_close(p, want[name], rtol=0, atol=0)
        elif not name.startswith("out."):
            assert not torch.allclose(p, want[name], atol=1e-4), name  # trained
    rec = json.loads((tmp_path / "frozen" / "dnn.json").read_text())["train"]
    assert rec["config"]["freeze"] == n and rec["best_frame_acc"] > rec["heldout_majority_acc"] + 0.2, rec


def test_task_logits_give_each_frame_the_softmax_of_its_own_task():
    """Cross-entropy over the masked logits of two tasks (3 and 4 output rows) equals, frame by
    frame, the cross-entropy over the slice of the frame's task with the task's own pdf id."""
    g = torch.Generator().manual_seed(0)
    task_of = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    logits = torch.randn(2, 5, 7, generator=g)
    y = torch.randint(0, 7, (2, 5), generator=g)
    y[0, 0] = -100  # ignored
    got = torch.nn.functional.cross_entropy(task_logits(logits, y, task_of).flatten(0, 1), y.flatten(),
                                            ignore_index=-100, reduction="none")
    for b in range(2):
        for t in range(5):
            if y[b, t] < 0:
                assert got[b * 5 + t] == 0
                continue
            lo, hi = (0, 3) if y[b, t] < 3 else (3, 7)
            want = -torch.log_softmax(logits[b, t, lo:hi], -1)[y[b, t] - lo]
            torch.testing.assert_close(got[b * 5 + t], want)


def test_aux_task_trains_jointly_and_is_dropped_from_the_model(cli, tones_tri, tmp_path):
    """--aux-feats/--aux-ali: the triphone network trains jointly with the monophone alignment
    as a second task. The model written has the triphone output rows only and learns them; the
    record counts the auxiliary frames. Mismatched or missing parts: one error line, no model."""
    d = tones_tri

    def train(out, *args):
        return _small_tdnn(cli, d, "tri_ali", "tri", tmp_path / out, "--epochs", 6, *args)
    for args, msg in ((("--aux-feats", d / "ftrain"), "--aux-ali"),
                      (("--aux-feats", d / "ftest", "--aux-ali", d / "ali"), "is not in"),
                      (("--aux-feats", d / "ftrain", "--aux-ali", d / "ali", "--objective", "mmi"), "--objective ce")):
        _refused(train("bad", *args), msg, tmp_path / "bad")
    assert train("mt", "--aux-feats", d / "ftrain", "--aux-ali", d / "ali").exit_code == 0
    mt, tri_pdfs = read_dnn(tmp_path / "mt"), read_model(d / "tri").gmm.num_pdfs
    assert mt.net.out.out_features == mt.meta["num_pdfs"] == len(mt.priors) == tri_pdfs
    rec = json.loads((tmp_path / "mt" / "dnn.json").read_text())["train"]
    ali = read_alignments(d / "ali")
    assert rec["aux"][0]["pdfs"] == ali.meta["num_pdfs"] != tri_pdfs
    assert rec["aux_frames"] == sum(len(ali[u].pdf) for u in ali.utts)
    assert rec["best_frame_acc"] > rec["heldout_majority_acc"] + 0.3, rec

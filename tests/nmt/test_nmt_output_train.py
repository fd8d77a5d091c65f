"""Training with each output layer on word-level toy data lowers the loss; checkpoints carry the
layer, so translate, average and ensembles take them without options."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from speechlang.accel import TrainConfig, load_checkpoint
from speechlang.errors import ConfigError
from speechlang.nmt.prepare import PrepareConfig, prepare
from speechlang.nmt.train import NMTConfig, train
from speechlang.nmt.translate import load_models

FIX = Path(__file__).parent.parent / "fixtures" / "nmt"
LAYERS = ("full", "sampled", "hierarchical")
MODEL = dict(embed_dim=32, ff_dim=64, heads=4, enc_layers=1, dec_layers=1, dropout=0.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A small Transformer per output layer, 2 epochs on 3000 word-level digit pairs (about 4 s each)."""
    d = tmp_path_factory.mktemp("layers")
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    prepare(PrepareConfig(train=str(FIX / "toy.train"), dev=str(FIX / "toy.test"), src="src", tgt="tgt",
                          model_type="word", vocab_size=0, joint=True), d / "data")
    out = {}
    for layer in LAYERS:
        cfg = NMTConfig(data=str(d / "data"), model={**MODEL, "output_layer": layer, "sampled_k": 6},
                        max_tokens=400, label_smoothing=0.0, dev_bleu_sents=20)
        tcfg = TrainConfig(epochs=2, lr=3e-3, optimizer="adam", betas=(0.9, 0.98), schedule="inverse-sqrt",
                           warmup_steps=20, device="cpu", seed=3, keep_epochs=2, monitor="dev_loss")
        out[layer] = train(cfg, tcfg, d / layer)
    torch.set_num_threads(n_threads)
    return d, out


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_lowers_the_loss(runs, layer):
    d, out = runs
    hist = out[layer]["history"]
    assert out[layer]["output_layer"] == layer
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["dev_loss"] < hist[0]["dev_loss"]
    assert hist[-1]["dev_loss"] < math.log(14) - 0.1  # better than uniform over the 14 words
    ck = load_checkpoint(d / layer / "checkpoint_last.pt")
    assert ck["model_config"]["output_layer"] == layer
    if layer == "hierarchical":  # the tree's counts travel with the model: the training targets'
        counts = ck["model"]["output.counts"]
        assert counts.sum() > 0 and counts[0] == 0 and counts[3] == 3000  # pad never, eos once per pair


@pytest.mark.parametrize("layer", LAYERS)
def test_translate_from_each(runs, layer, cli, tmp_path):
    d, _ = runs
    srcs = (FIX / "toy.test.src").read_text().splitlines()[:20]
    (tmp_path / "in.txt").write_text("\n".join(srcs) + "\n")
    r = cli("nmt", "translate", "-m", d / layer / "checkpoint_last.pt", "-i", tmp_path / "in.txt",
            "--beam", "3", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    hyps = r.stdout.splitlines()
    assert len(hyps) == 20 and all(set(h.split()) <= set("0123456789") for h in hyps)
    assert sum(bool(h) for h in hyps) >= 15  # not yet the reversal, but digit strings


def test_average_and_mixed_ensemble(runs, cli, tmp_path):
    d, _ = runs
    r = cli("nmt", "average", "--run-dir", d / "hierarchical", "--last", "2", "-O", tmp_path / "avg.pt")
    assert r.exit_code == 0, r.stderr
    model, _ = load_models([tmp_path / "avg.pt"])
    assert model.config.output_layer == "hierarchical"
    paths = [d / layer / "checkpoint_last.pt" for layer in LAYERS]
    r = cli("nmt", "translate", *[a for p in paths for a in ("-m", p)], "--beam", "2", input="1 2 3\n4 5\n")
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2
    ens, _ = load_models(paths)  # one model per output layer: their log-probs are averaged
    src, y = torch.tensor([[5, 6, 7, 3]]), torch.tensor([2])
    with torch.no_grad():
        lp, _ = ens.step(ens.encode(src), ens.init_state(ens.encode(src)), y)
        each = [m.step(m.encode(src), m.init_state(m.encode(src)), y)[0] for m in ens.models]
    torch.testing.assert_close(lp, sum(each) / 3)
    for x in each:  # each a distribution over the same 14 words
        assert x.shape == (1, 14) and x.exp().sum().item() == pytest.approx(1.0, abs=1e-4)


def test_cli_output_layer_options(runs, cli, tmp_path):
    d, _ = runs
    base = ("nmt", "train", "-d", d / "data", "-o", tmp_path / "m", "--epochs", "1", "--embed-dim", "16",
            "--heads", "2", "--ff-dim", "16", "--enc-layers", "1", "--dec-layers", "1", "--dev-bleu-sents", "5",
            "--threads", "1", "--json")
    r = cli(*base, "--output-layer", "sampled", "--label-smoothing", "0.1")
    assert r.exit_code == 1 and "--label-smoothing applies to --output-layer full only" in r.stderr
    r = cli(*base, "--sampled-k", "8")
    assert r.exit_code == 1 and "--output-layer sampled only" in r.stderr
    r = cli(*base, "--output-layer", "sampled", "--sampled-proposal", "zipf")
    assert r.exit_code == 1 and "--sampled-proposal 'zipf'" in r.stderr
    r = cli(*base, "--output-layer", "hierarchical", "--arch", "lstm-attention", "--heads", "1")
    assert r.exit_code == 1  # --heads is not an lstm option: the usual check still applies
    r = cli(*base, "--output-layer", "sampled", "--sampled-k", "4", "--sampled-proposal", "unigram")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["output_layer"] == "sampled"
    with pytest.raises(ConfigError, match="--label-smoothing"):
        train(NMTConfig(data=str(d / "data"), model={"output_layer": "hierarchical"}), TrainConfig(), tmp_path / "x")

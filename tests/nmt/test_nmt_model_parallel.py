"""Model parallelism: two gloo processes (encoder | decoder) give the single-process loss and
every parameter's gradient; `nmt train --model-parallel 2` trains as one process does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from speechlang.accel import init_distributed, load_checkpoint
from speechlang.errors import ConfigError
from speechlang.nmt.model_parallel import pipeline_step, spawn, split_stage, sum_shared_grad
from speechlang.nmt.prepare import PrepareConfig, prepare
from speechlang.nmt.registry import build_model
from speechlang.nmt.train import NMTConfig, nmt_loss, pad_batch, stage_loss_sum

FIX = Path(__file__).parent.parent / "fixtures" / "nmt"
# name: (model options, label smoothing, micro-batches)
CASES = {
    "tied-full": (dict(share_embeddings=True), 0.1, 1),
    "tied-full-3-pieces": (dict(share_embeddings=True), 0.1, 3),
    "untied-hierarchical-2-pieces": (dict(share_embeddings=False, output_layer="hierarchical"), 0.0, 2),
    "untied-sampled": (dict(share_embeddings=False, output_layer="sampled", sampled_k=7), 0.0, 1),
}


def make(opts: dict):
    torch.manual_seed(0)
    V = 23 if opts["share_embeddings"] else 25
    m = build_model("transformer", dict(src_vocab=V, tgt_vocab=23, embed_dim=16, ff_dim=32, heads=2,
                                        enc_layers=2, dec_layers=2, dropout=0.0, **opts))
    m.output.set_counts(torch.arange(23) + 1)
    return m.train()


def batch():
    """5 sentence pairs of different lengths: (src + eos, bos + tgt, tgt + eos), padded."""
    g = torch.Generator().manual_seed(1)
    src = [torch.randint(4, 23, (n,), generator=g).numpy() for n in (6, 3, 6, 5, 1)]
    tgt = [torch.randint(4, 23, (n,), generator=g).numpy() for n in (5, 5, 2, 4, 3)]
    return pad_batch(src, False, True), pad_batch(tgt, True, False), pad_batch(tgt, False, True)


def stage_run() -> dict:
    """On each of two ranks: one pipelined forward/backward per case; rank 0 returns both ranks' results."""
    env = init_distributed(torch.device("cpu"))
    mine = {}
    for name, (opts, ls, pieces) in CASES.items():
        model = split_stage(make(opts), env.rank)
        torch.manual_seed(9)  # the sampled softmax's draws, as in the single process
        loss, ntok = pipeline_step(model, env.rank, batch(), lambda m, x, y, ls=ls: stage_loss_sum(m, x, y, ls),
                                   micro_batches=pieces)
        sum_shared_grad(model)
        mine[name] = (loss / ntok, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    both = [None, None]
    torch.distributed.all_gather_object(both, mine)
    return both


def test_two_stages_equal_one_process():
    both = spawn(stage_run, 2)
    for name, (opts, ls, _) in CASES.items():
        model = make(opts)
        torch.manual_seed(9)
        loss, _ = nmt_loss(model, batch(), ls, opts.get("output_layer", "full"))
        loss.backward()
        (_, g0), (loss1, g1) = both[0][name], both[1][name]
        assert loss1 == pytest.approx(loss.item(), rel=1e-5, abs=1e-6), name
        ref = {n: p.grad for n, p in model.named_parameters()}
        assert set(g0) | set(g1) == set(ref), name  # every parameter on one stage or both
        assert bool(set(g0) & set(g1)) == opts["share_embeddings"]  # only the shared embedding is on both
        for n, g in (*g0.items(), *g1.items()):
            torch.testing.assert_close(g, ref[n], atol=1e-5, rtol=1e-4, msg=f"{name}: {n}")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("mp") / "data"  # prepare runs no torch: threads do not matter
    prepare(PrepareConfig(train=str(FIX / "toy.dev"), dev=str(FIX / "toy.test"), src="src", tgt="tgt",
                          model_type="word", vocab_size=0), d)
    return d


def test_train_model_parallel_matches_single_process(data, tmp_path, cli):
    args = ("nmt", "train", "-d", data, "--epochs", "1", "--embed-dim", "16", "--heads", "2",
            "--ff-dim", "32", "--enc-layers", "1", "--dec-layers", "1", "--dropout", "0", "--max-tokens", "300",
            "--dev-bleu-sents", "10", "--keep-epochs", "0", "--threads", "1", "--json", "--seed", "4",
            "--output-layer", "hierarchical", "--no-share-embeddings")
    r = cli(*args, "--model-parallel", "2", "--micro-batches", "2", "-o", tmp_path / "mp")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["model_parallel"] == 2
    r = cli(*args, "-o", tmp_path / "one")
    assert r.exit_code == 0, r.stderr
    mp_state = load_checkpoint(tmp_path / "mp" / "checkpoint_last.pt")["model"]
    one_state = load_checkpoint(tmp_path / "one" / "checkpoint_last.pt")["model"]
    assert set(mp_state) == set(one_state)
    for k in one_state:
        torch.testing.assert_close(mp_state[k], one_state[k], atol=2e-4, rtol=1e-3, msg=k)
    rec = json.loads((tmp_path / "mp" / "metrics.jsonl").read_text().splitlines()[-1])
    n_bytes = 4 * sum(v.numel() for k, v in one_state.items() if v.is_floating_point())
    assert rec["stage0_param_bytes"] + rec["stage1_param_bytes"] == n_bytes  # embeddings are not shared here
    assert rec["stage0_activation_bytes"] > 0 and rec["stage1_activation_bytes"] > 0
    r = cli("nmt", "translate", "-m", tmp_path / "mp" / "checkpoint_last.pt", "--beam", "2", input="1 2 3\n")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1


def test_model_parallel_option_errors(data, tmp_path, cli):
    def err(*extra):
        r = cli("nmt", "train", "-d", data, "-o", tmp_path / "m", "--model-parallel", "2", *extra)
        assert r.exit_code != 0 and not (tmp_path / "m").exists()
        return r.stderr
    assert "splits --arch transformer only" in err("--arch", "lstm-attention")
    assert "--resume is not supported" in err("--resume", "--epochs", "1")
    assert "--model-parallel" in err("--model-parallel", "3")  # after the first: the option's range
    with pytest.raises(ConfigError, match="--micro-batches"):
        NMTConfig(micro_batches=0).check()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_model_parallel_on_two_gpus(data, tmp_path, cli):
    r = cli("nmt", "train", "-d", data, "-o", tmp_path / "gpu", "--epochs", "1", "--embed-dim", "16", "--heads", "2",
            "--ff-dim", "32", "--enc-layers", "1", "--dec-layers", "1", "--dev-bleu-sents", "10", "--device", "cuda",
            "--model-parallel", "2", "--micro-batches", "2", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads((tmp_path / "gpu" / "metrics.jsonl").read_text().splitlines()[-1])
    assert rec["stage0_peak_bytes"] > 0 and rec["stage1_peak_bytes"] > 0

"""Hogwild workers, the hard mixture-of-experts layer, and both wired into the trainers;
--precision on every trainer and int8 translation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from speechlang.accel import TrainConfig, index_batches
from speechlang.accel.compress import count_params
from speechlang.accel.hogwild import hogwild_fit
from speechlang.accel.moe import HardMoE, MoEConfig, linear_macs, moe_loss
from speechlang.errors import ConfigError
from speechlang.vision.idx import write_idx

N, DIM = 256, 6


def regression():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, DIM, generator=g)
    y = x @ torch.linspace(-1, 1, DIM) + 0.5
    return x, y[:, None]


def test_hogwild_workers_share_parameters_and_loss_falls():
    x, y = regression()
    torch.manual_seed(0)
    model = nn.Linear(DIM, 1)
    seen = torch.zeros(2, N).share_memory_()  # one row per worker

    def batches(epoch, env):
        for idx in index_batches(N, 16, epoch=epoch, seed=1, env=env):
            yield x[idx], y[idx], torch.as_tensor(idx), env.rank

    def loss_fn(net, b):
        seen[b[3], b[2]] += 1  # shared memory: every worker's items are visible here
        return nn.functional.mse_loss(net(b[0]), b[1]), len(b[1])

    with torch.no_grad():
        before = float(nn.functional.mse_loss(model(x), y))
    hogwild_fit(model, loss_fn, batches, TrainConfig(epochs=5, lr=0.05, optimizer="sgd", momentum=0.0),
                workers=2, steps_per_epoch=N // 16)
    with torch.no_grad():
        after = float(nn.functional.mse_loss(model(x), y))
    assert after < 0.05 * before
    assert torch.equal(seen.sum(0), torch.full((N,), 5.0))  # every item, 5 epochs
    assert (seen.sum(1) == 5 * N / 2).all()  # both workers made progress on their shards


def test_hogwild_worker_failure_is_reported():
    x, y = regression()

    def batches(epoch, env):
        yield x[:4], y[:4]

    def loss_fn(net, b):
        raise ValueError("boom")

    with pytest.raises(Exception, match="hogwild worker .*boom"):
        hogwild_fit(nn.Linear(DIM, 1), loss_fn, batches, TrainConfig(epochs=1), workers=2)
    with pytest.raises(ConfigError):
        hogwild_fit(nn.Linear(DIM, 1), loss_fn, batches, TrainConfig(epochs=1), workers=0)


@torch.no_grad()
def test_moe_routes_each_input_to_one_expert():
    torch.manual_seed(0)
    moe = HardMoE(MoEConfig(dim=8, hidden=16, num_experts=3))
    x = torch.randn(5, 7, 8)
    out = moe(x)
    flat = x.reshape(-1, 8)
    probs = torch.softmax(moe.gate(flat), -1)
    for i in range(flat.shape[0]):
        e = int(probs[i].argmax())
        expected = moe.experts[e](flat[i:i + 1])[0] * probs[i, e]
        assert torch.allclose(out.reshape(-1, 8)[i], expected, atol=1e-6)
    assert int(moe.last_counts.sum()) == 35
    frac = moe.last_counts.float() / 35
    assert moe.aux_loss.item() == pytest.approx(3 * float((frac * probs.mean(0)).sum()), rel=1e-5)


def test_moe_gater_and_experts_get_gradients():
    torch.manual_seed(1)
    moe = HardMoE(MoEConfig(dim=4, hidden=8, num_experts=2))
    (moe(torch.randn(64, 4)).pow(2).mean() + 0.01 * moe.aux_loss).backward()
    assert moe.gate.weight.grad.abs().sum() > 0
    assert moe.flops_per_example() == 4 * 2 + 2 * 4 * 8


# --- Hogwild through the trainers' CLIs ---------------------------------------------------

def quadrant_images(n: int, size: int = 12, seed: int = 0):
    """n grey images (n, size, size) uint8: class k = a bright 4x4 square in quadrant k, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    half = size // 2
    for i, k in enumerate(y):
        r0, c0 = (k // 2) * half + rng.integers(0, half - 3), (k % 2) * half + rng.integers(0, half - 3)
        x[i, r0:r0 + 4, c0:c0 + 4] = 200
    return x, y.astype(np.uint8)


@pytest.fixture
def images(tmp_path):
    """A 4-class 12x12 IDX training set of 400 images."""
    x, y = quadrant_images(400, seed=1)
    write_idx(tmp_path / "train-images-idx3-ubyte", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte", y)
    return tmp_path / "train-images-idx3-ubyte"


VALID = 80
LENET = ["--arch", "lenet", "--model-opt", "channels=8,16", "--model-opt", "hidden=32", "--model-opt", "dropout=0",
         "--batch-size", "32", "--lr", "0.05", "--warmup-steps", "0", "--valid", str(VALID), "--no-hflip",
         "--threads", "1"]


def metrics(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_vision_hogwild_workers_all_progress_and_loss_falls(cli, images, tmp_path):
    out = tmp_path / "hw"
    r = cli("--quiet", "vision", "train", "--train", images, "-o", out, *LENET, "--epochs", "4",
            "--device", "cpu", "--hogwild", "2", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    hist = metrics(out / "metrics.jsonl")
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    per_worker = (400 - VALID) // 2  # each worker trains on its half of every epoch
    assert all(h["worker_items"] == [per_worker, per_worker] for h in hist)
    assert rec["worker_images"] == [per_worker, per_worker]
    assert hist[-1]["train_loss"] < 0.7 * hist[0]["train_loss"]
    assert rec["val_acc"] > 80  # chance: 25%
    r = cli("vision", "eval", "-m", out, "-d", images, "--json", "--device", "cpu")  # the checkpoint loads
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["accuracy"] > 80


def test_hogwild_refuses_torchrun_cuda_and_resume(cli, images, tmp_path, monkeypatch):
    base = ("--quiet", "vision", "train", "--train", images, "-o", tmp_path / "x", *LENET, "--hogwild", "2")
    r = cli(*base, "--device", "cuda")
    assert r.exit_code == 1 and "--hogwild" in r.stderr and "--device cuda" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli(*base, "--device", "cpu", "--resume")
    assert r.exit_code == 1 and "--resume" in r.stderr
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it (undone after the run)
    r = cli(*base, "--device", "cpu")
    assert r.exit_code == 1 and "torchrun" in r.stderr and "Traceback" not in r.stderr
    r = cli("w2v", "train", "-i", images, "--backend", "numba", "--hogwild", "2")
    assert r.exit_code == 1 and "--backend torch" in r.stderr


def topic_corpus(path, n_sentences=1200, groups=6, per_group=10, seed=0):
    """Sentences whose content words come from one of `groups` topics, with shared fillers."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for _ in range(n_sentences):
            g = rng.integers(groups)
            words = [f"t{g}w{rng.integers(per_group)}" if rng.random() < 0.7 else f"f{rng.integers(15)}"
                     for _ in range(rng.integers(6, 13))]
            f.write(" ".join(words) + "\n")


def topic_precision(vectors_path, groups=6, per_group=10, k=5) -> float:
    from speechlang.w2v.neighbors import KeyedVectors

    kv = KeyedVectors.load(str(vectors_path))
    hits = [np.mean([w.startswith(f"t{g}w") for w, _ in kv.similar(f"t{g}w{i}", k)])
            for g in range(groups) for i in range(per_group)]
    return float(np.mean(hits))


W2V = ["--backend", "torch", "--dim", "16", "--window", "3", "--sample", "0", "--min-count", "1",
       "--alpha", "0.05", "--batch-size", "512", "--threads", "1", "--device", "cpu"]


def test_w2v_torch_hogwild_workers_all_progress_and_learn(cli, tmp_path):
    topic_corpus(tmp_path / "c.txt")
    r = cli("--quiet", "w2v", "train", "-i", tmp_path / "c.txt", *W2V, "--epochs", "4", "--hogwild", "2",
            "--metrics", tmp_path / "m.jsonl", "-O", tmp_path / "v.txt")
    assert r.exit_code == 0, r.stderr
    hist = metrics(tmp_path / "m.jsonl")
    assert len(hist) == 4
    for h in hist:
        a, b = h["worker_pairs"]
        assert min(a, b) > 0 and abs(a - b) <= 512 * 2  # the same number of batches each
        assert h["pairs"] == a + b
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert topic_precision(tmp_path / "v.txt") > 0.6  # chance: about 0.1


# --- precision on every trainer, int8 inference ------------------------------------------

def test_bf16_on_the_vision_and_w2v_torch_trainers(cli, images, tmp_path):
    r = cli("--quiet", "vision", "train", "--train", images, "-o", tmp_path / "v", *LENET, "--epochs", "3",
            "--device", "cpu", "--precision", "bf16", "--json")
    assert r.exit_code == 0, r.stderr
    hist = metrics(tmp_path / "v" / "metrics.jsonl")
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] and hist[-1]["val_acc"] > 60
    topic_corpus(tmp_path / "c.txt")
    r = cli("--quiet", "w2v", "train", "-i", tmp_path / "c.txt", *W2V, "--epochs", "3", "--precision", "bf16",
            "--metrics", tmp_path / "m.jsonl", "-O", tmp_path / "w.txt")
    assert r.exit_code == 0, r.stderr
    hist = metrics(tmp_path / "m.jsonl")
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert topic_precision(tmp_path / "w.txt") > 0.5


@pytest.mark.parametrize("command", [("vision", "train"), ("w2v", "train"), ("nmt", "train"), ("asr", "train-dnn")])
def test_every_torch_trainer_has_precision(cli, command):
    r = cli(*command, "--help")
    assert r.exit_code == 0 and "--precision" in r.stdout


# --- mixture of experts in the vision and nmt models ---------------------------------------

def test_vision_moe_heads_shapes_and_compute():
    from speechlang.vision.registry import build_model

    opts = {"lenet": ["channels=4,8", "hidden=16"], "resnet": ["widths=4,8"]}
    x = torch.randn(7, 1, 12, 12)
    for arch, o in opts.items():
        torch.manual_seed(0)
        dense = build_model(arch, in_channels=1, num_classes=5, image_size=(12, 12), overrides=o)
        moe = build_model(arch, in_channels=1, num_classes=5, image_size=(12, 12), overrides=[*o, "moe_experts=3"])
        assert moe(x).shape == dense(x).shape == (7, 5)
        (layer,) = [m for m in moe.modules() if isinstance(m, HardMoE)]
        assert int(layer.last_counts.sum()) == 7
        d = layer.cfg.dim
        if arch == "lenet":  # the same hidden layer + classifier per expert: compute of one, plus the gate
            assert linear_macs(moe) == linear_macs(dense) + d * 3
            assert count_params(moe) - count_params(dense) == 2 * count_params(layer.experts[0]) + d * 3
        else:  # the linear classifier becomes experts Linear(d, d), ReLU, Linear(d, 5)
            assert linear_macs(moe) == linear_macs(dense) + d * 3 + d * d
        moe.zero_grad()
        moe(x)
        moe_loss(moe).backward()  # the balancing loss alone reaches the gate
        assert layer.gate.weight.grad.abs().sum() > 0


def test_vision_training_loss_includes_the_balancing_loss(cli, images, tmp_path, monkeypatch):
    import speechlang.vision.train as vt

    calls = []

    def spy(net):
        calls.append(sum(isinstance(m, HardMoE) for m in net.modules()))
        return moe_loss(net) + 100.0  # shows up in the reported training loss if it is added

    monkeypatch.setattr(vt, "moe_loss", spy)
    r = cli("--quiet", "vision", "train", "--train", images, "-o", tmp_path / "m", *LENET, "--epochs", "1",
            "--device", "cpu", "--moe-experts", "3")
    assert r.exit_code == 0, r.stderr
    assert calls and set(calls) == {1}
    assert metrics(tmp_path / "m" / "metrics.jsonl")[0]["train_loss"] > 100


def test_vision_moe_trains(cli, images, tmp_path):
    r = cli("--quiet", "vision", "train", "--train", images, "-o", tmp_path / "m", *LENET, "--epochs", "4",
            "--device", "cpu", "--moe-experts", "3", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["val_acc"] > 80
    hist = metrics(tmp_path / "m" / "metrics.jsonl")
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]


def tiny_transformer(experts: int):
    from speechlang.nmt.transformer import Transformer, TransformerConfig

    return Transformer(TransformerConfig(src_vocab=30, tgt_vocab=30, embed_dim=16, ff_dim=32, heads=2,
                                         enc_layers=1, dec_layers=2, dropout=0.0, moe_experts=experts))


@torch.no_grad()
def test_transformer_moe_ffn_decodes_step_by_step_like_forward():
    torch.manual_seed(0)
    m = tiny_transformer(3).eval()
    assert sum(isinstance(x, HardMoE) for x in m.modules()) == 3  # one per layer
    src, tgt = torch.randint(4, 30, (2, 5)), torch.randint(4, 30, (2, 4))
    logits = m(src, tgt)
    assert logits.shape == (2, 4, 30)
    enc = m.encode(src)
    state = m.init_state(enc)
    for t in range(4):
        lp, state = m.step(enc, state, tgt[:, t])
        assert torch.allclose(lp, torch.log_softmax(logits[:, t], -1), atol=1e-5)


def test_nmt_loss_adds_the_balancing_loss_and_moe_transformer_learns():
    from speechlang.nmt.subword import BOS, EOS
    from speechlang.nmt.train import nmt_loss

    torch.manual_seed(0)
    m = tiny_transformer(3)
    g = torch.Generator().manual_seed(1)

    def batch():  # copy task: the target is the source
        s = torch.randint(EOS + 1, 12, (32, 5), generator=g)
        return (torch.cat([s, torch.full((32, 1), EOS)], 1), torch.cat([torch.full((32, 1), BOS), s], 1),
                torch.cat([s, torch.full((32, 1), EOS)], 1))

    b = batch()
    loss, n = nmt_loss(m, b, 0.0)
    aux = sum(x.aux_loss for x in m.modules() if isinstance(x, HardMoE))
    plain = torch.nn.functional.cross_entropy(m(b[0], b[1]).reshape(-1, 30), b[2].reshape(-1))
    assert n == 32 * 6 and torch.allclose(loss, plain + 0.01 * aux, atol=1e-6)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = float(loss.detach())
    for _ in range(150):
        loss, _ = nmt_loss(m, batch(), 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.3 * first


# --- accel bench --trainer: data-parallel scaling ------------------------------------------

@pytest.mark.parametrize("trainer,unit,per_step", [("vision", "images", 4), ("nmt", "tokens", 4 * 25),
                                                    ("asr-dnn", "frames", 4)])
def test_accel_bench_trainer_counts_every_rank(cli, trainer, unit, per_step):
    r = cli("accel", "bench", "--trainer", trainer, "--procs", "2", "--steps", "2", "--batch-size", "4",
            "--threads", "1", "--device", "cpu", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["unit"] == unit and rec["procs"] == 2 and rec["batch_per_proc"] == 4
    ranks = rec["ranks"]
    assert [x["rank"] for x in ranks] == [0, 1] and all(x["items"] == 2 * per_step for x in ranks)
    total = sum(x["items"] for x in ranks)
    assert rec["throughput_n"] == pytest.approx(total / max(x["seconds"] for x in ranks))
    for x in ranks:  # the loop's own figure, summed over the ranks by all-reduce, agrees
        assert x["items_per_s_all_ranks"] == pytest.approx(total / x["seconds"], rel=1e-6)
    assert rec["throughput_1"] > 0 and rec["throughput_n"] > 0
    assert rec["efficiency"] == pytest.approx(rec["throughput_n"] / (2 * rec["throughput_1"]))


def test_accel_bench_trainer_text_and_errors(cli):
    r = cli("accel", "bench", "--trainer", "asr-dnn", "--procs", "1", "--steps", "1", "--batch-size", "2",
            "--threads", "1", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    rows = dict(line.split("\t") for line in r.stdout.splitlines())
    assert rows["efficiency"] == "1.000" and rows["throughput_1"].endswith("frames/s")
    r = cli("accel", "bench", "--trainer", "speech", "--device", "cpu")
    assert r.exit_code == 1 and "--trainer 'speech' is not one of vision, nmt, asr-dnn" in r.stderr


# --- nmt: a mixture-of-experts Transformer trained through the CLI, int8 translation -------

NMT_FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nmt"


@pytest.fixture(scope="module")
def moe_nmt(tmp_path_factory, run_ok):
    """A Transformer whose feed-forward blocks are 2 experts each, 3 epochs on the digit-reversal
    toy (about 15 s on one core)."""
    d = tmp_path_factory.mktemp("moe_nmt")
    n = torch.get_num_threads()
    run_ok("nmt", "prepare", "--train", NMT_FIX / "toy.train", "--dev", NMT_FIX / "toy.dev",
            "--src", "src", "--tgt", "tgt", "--vocab-size", "32", "-o", d / "data")
    run_ok("nmt", "train", "-d", d / "data", "-o", d / "tf", "--moe-experts", "2", "--embed-dim", "64",
            "--ff-dim", "128", "--heads", "4", "--enc-layers", "2", "--dec-layers", "2", "--dropout", "0",
            "--max-tokens", "300", "--label-smoothing", "0", "--epochs", "3", "--lr", "3e-3", "--warmup-steps", "100",
            "--dev-bleu-sents", "20", "--keep-epochs", "0", "--patience", "0", "--device", "cpu", "--threads", "1")
    torch.set_num_threads(n)
    return d


def test_moe_transformer_trains_and_int8_translation_agrees(cli, moe_nmt, tmp_path):
    from speechlang.nmt.translate import load_models

    ck = moe_nmt / "tf" / "checkpoint_last.pt"
    model, _ = load_models([ck])
    assert sum(isinstance(m, HardMoE) for m in model.modules()) == 4  # every feed-forward block
    hyps = {}
    for name, extra in (("float", []), ("int8", ["--quantize"])):
        out = tmp_path / f"{name}.txt"
        r = cli("nmt", "translate", "-m", ck, "-i", NMT_FIX / "toy.test.src", "-O", out, "--beam", "2",
                "--threads", "1", "--device", "cpu", *extra)
        assert r.exit_code == 0, r.stderr
        hyps[name] = out.read_text().splitlines()
    srcs = (NMT_FIX / "toy.test.src").read_text().splitlines()
    exact = np.mean([h.split() == s.split()[::-1] for h, s in zip(hyps["float"], srcs, strict=True)])
    assert exact > 0.3  # reversal is learned (random output: 0)
    agree = np.mean([a == b for a, b in zip(hyps["float"], hyps["int8"], strict=True)])
    assert agree > 0.75, agree


def test_int8_quantizes_the_transformer_linear_layers(moe_nmt):
    from speechlang.accel.compress import quantize_int8
    from speechlang.nmt.translate import load_models

    model, _ = load_models([moe_nmt / "tf" / "checkpoint_last.pt"])
    q = quantize_int8(model)
    kinds = {type(m).__name__ for m in q.modules()}
    assert "Linear" in kinds and not any(type(m) is nn.Linear for m in q.modules())  # all dynamic int8


def test_nmt_trains_in_bf16(run_ok, moe_nmt, tmp_path):
    run_ok("nmt", "train", "-d", moe_nmt / "data", "-o", tmp_path / "bf16", "--embed-dim", "16",
            "--ff-dim", "32", "--heads", "2", "--enc-layers", "1", "--dec-layers", "1", "--max-tokens", "600",
            "--epochs", "2", "--warmup-steps", "10", "--dev-bleu-sents", "5", "--patience", "0", "--keep-epochs", "0",
            "--device", "cpu", "--threads", "1", "--precision", "bf16")
    hist = metrics(tmp_path / "bf16" / "metrics.jsonl")
    assert len(hist) == 2 and np.isfinite(hist[-1]["train_loss"]) and hist[-1]["train_loss"] < hist[0]["train_loss"]

"""Pruning reaches its sparsity; int8 agrees with float; distillation trains a student."""

from __future__ import annotations

import json

import pytest
import torch

from speechlang.accel.compress import prunable_weights, quantize_int8
from speechlang.vision.evaluate import load_eval_set, probabilities
from speechlang.vision.registry import build_model
from speechlang.vision.train import load_model

SMALL = ["--arch", "lenet", "--model-opt", "channels=8,16", "--model-opt", "hidden=32", "--model-opt", "dropout=0",
         "--batch-size", "32", "--lr", "0.05", "--warmup-steps", "0", "--valid", "80",
         "--no-hflip", "--device", "cpu", "--threads", "1"]


@pytest.fixture
def trained(cli, tiny_idx, tmp_path):
    r = cli("--quiet", "vision", "train", "--train", tiny_idx[0], "-o", tmp_path / "m", *SMALL, "--epochs", "5")
    assert r.exit_code == 0, r.stderr
    return tmp_path / "m"


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_prune_reaches_sparsity(cli, tiny_idx, trained, tmp_path, scope):
    train, test = tiny_idx
    r = cli("--quiet", "vision", "compress", "prune", "-m", trained, "--train", train, "-d", test,
            "-o", tmp_path / scope, "--sparsity", "0.8", "--scope", scope, "--epochs", "1", "--valid", "80", "--json",
            "--device", "cpu", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    pruned = load_model(tmp_path / scope / "model.pt").model
    weights = [w for _, w in prunable_weights(pruned)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    total = sum(w.numel() for w in weights)
    assert zeros / total >= 0.8 - 1e-3  # held at zero through fine-tuning
    if scope == "layer":
        assert all((w == 0).float().mean() >= 0.8 - 1.0 / w.numel() for w in weights)
    assert rec["after"]["sparsity"] == pytest.approx(zeros / total)
    assert rec["after"]["size_gz_bytes"] < rec["before"]["size_gz_bytes"]
    assert rec["before"]["accuracy"] > 80


def test_int8_agrees_with_float(cli, tiny_idx, trained, tmp_path):
    _, test = tiny_idx
    r = cli("--quiet", "vision", "compress", "quantize", "-m", trained, "-d", test, "-o", tmp_path / "q", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    f, q = load_model(trained), load_model(tmp_path / "q")
    assert q.quantized == "int8"
    assert any("Quantized" in type(m).__name__ or "quantized" in type(m).__module__ for m in q.model.modules())
    ds = load_eval_set(f, str(test))
    pf, pq = probabilities(f, ds), probabilities(q, ds)
    agree = (pf.argmax(1) == pq.argmax(1)).float().mean().item()
    assert agree >= 0.95
    assert abs(rec["after"]["accuracy"] - rec["before"]["accuracy"]) <= 5
    assert rec["after"]["size_bytes"] < rec["before"]["size_bytes"]


def test_int8_agrees_on_random_model():
    torch.manual_seed(0)
    m = build_model("lenet", in_channels=1, num_classes=10, image_size=(28, 28)).eval()
    x = torch.randn(200, 1, 28, 28)
    with torch.no_grad():
        agree = (m(x).argmax(1) == quantize_int8(m)(x).argmax(1)).float().mean().item()
    assert agree >= 0.9


def test_distill_trains_student(cli, tiny_idx, trained, tmp_path):
    train, test = tiny_idx
    r = cli("--quiet", "vision", "compress", "distill", "--teacher", trained, "--train", train, "-d", test,
            "-o", tmp_path / "s", "--arch", "lenet", "--model-opt", "channels=4,8", "--model-opt", "hidden=16",
            "--epochs", "4", "--warmup-steps", "0", "--batch-size", "32", "--valid", "80", "--no-hflip",
            "--device", "cpu", "--threads", "1", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["after"]["params"] < rec["before"]["params"]
    assert rec["after"]["accuracy"] > 70
    student = load_model(tmp_path / "s")
    assert student.model.cfg.channels == (4, 8) and student.stats == load_model(trained).stats

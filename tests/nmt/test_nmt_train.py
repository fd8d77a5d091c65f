"""Training: one seed repeats exactly, --resume continues bit for bit, GPU equals CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from speechlang.accel import TrainConfig, load_checkpoint
from speechlang.nmt.prepare import PrepareConfig, prepare
from speechlang.nmt.registry import build_model
from speechlang.nmt.subword import EOS
from speechlang.nmt.train import NMTConfig, train

FIX = Path(__file__).parent.parent / "fixtures" / "nmt"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("small") / "data"  # prepare runs no torch: threads do not matter
    prepare(PrepareConfig(train=str(FIX / "toy.dev"), dev=str(FIX / "toy.test"), src="src", tgt="tgt",
                          vocab_size=24), d)
    return d


def run(data, out, arch, epochs, resume=False):
    model = dict(embed_dim=16, hidden_dim=8, dropout=0.1) if arch == "lstm-attention" else \
        dict(embed_dim=16, ff_dim=32, heads=2, enc_layers=1, dec_layers=1, dropout=0.1)
    cfg = NMTConfig(data=str(data), arch=arch, model=model, max_tokens=200, dev_bleu_sents=20)
    tcfg = TrainConfig(epochs=epochs, lr=1e-3, optimizer="adam", schedule="inverse-sqrt", warmup_steps=10,
                       device="cpu", seed=5, keep_epochs=2, monitor="dev_loss")
    train(cfg, tcfg, out, resume=resume)
    return load_checkpoint(Path(out) / "checkpoint_last.pt")["model"]


@pytest.mark.parametrize("arch", ["transformer", "lstm-attention"])
def test_same_seed_same_model_and_resume(data, tmp_path, arch):
    a = run(data, tmp_path / "a", arch, 2)
    b = run(data, tmp_path / "b", arch, 2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    if arch != "transformer":
        return  # the resume path is the same for every architecture
    run(data, tmp_path / "c", arch, 1)
    c = run(data, tmp_path / "c", arch, 2, resume=True)
    assert all(torch.equal(a[k], c[k]) for k in a)
    first = load_checkpoint(tmp_path / "c" / "checkpoint_epoch1.pt")["model"]
    assert not all(torch.equal(a[k], first[k]) for k in a)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("arch", ["transformer", "lstm-attention"])
def test_cuda_matches_cpu(arch):
    torch.manual_seed(0)
    m = build_model(arch, dict(src_vocab=20, tgt_vocab=20, embed_dim=16)).eval()
    src = torch.tensor([[5, 6, 7, EOS], [8, EOS, 0, 0]])
    tgt = torch.tensor([[2, 9, 10], [2, 11, 0]])
    with torch.no_grad():
        ref = m(src, tgt)
        got = m.cuda()(src.cuda(), tgt.cuda()).cpu()
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)

"""Models: padding does not change outputs, incremental decoding equals teacher forcing, registry."""

from __future__ import annotations

import pytest
import torch

from speechlang.errors import ConfigError
from speechlang.nmt import ARCH_MODULES
from speechlang.nmt.registry import ARCHS, Seq2Seq, arch_names, build_model, model_config, register
from speechlang.nmt.subword import BOS, EOS, PAD

OPTS = {
    "transformer": dict(embed_dim=16, ff_dim=32, heads=4, enc_layers=2, dec_layers=2, dropout=0.3),
    "lstm-attention": dict(embed_dim=12, hidden_dim=10, enc_layers=2, dec_layers=2, dropout=0.3),
}
CASES = [("transformer", {}), ("lstm-attention", {"attention": "additive"}),
         ("lstm-attention", {"attention": "multiplicative"})]


def make(arch, **kw):
    torch.manual_seed(0)
    return build_model(arch, dict(src_vocab=20, tgt_vocab=20, **{**OPTS[arch], **kw})).eval()


def pad(x: torch.Tensor, n: int) -> torch.Tensor:
    return torch.cat([x, torch.full((x.shape[0], n), PAD)], 1)


@pytest.mark.parametrize("arch,kw", CASES)
def test_padding_does_not_change_outputs(arch, kw):
    model = make(arch, **kw)
    src = torch.tensor([[5, 6, 7, 8, EOS], [9, 10, EOS, PAD, PAD]])
    tgt = torch.tensor([[BOS, 11, 12, 13], [BOS, 14, PAD, PAD]])
    with torch.no_grad():
        ref = model(src, tgt)
        more = model(pad(src, 4), pad(tgt, 3))
        alone = model(src[1:, :3], tgt[1:, :2])  # the short sentence without any padding
    torch.testing.assert_close(more[:, :4], ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ref[1:, :2], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch,kw", CASES)
def test_incremental_steps_equal_teacher_forcing(arch, kw):
    model = make(arch, **kw)
    src = torch.tensor([[5, 6, 7, 8, EOS], [9, 10, EOS, PAD, PAD]])
    tgt = torch.tensor([[BOS, 11, 12, 13], [BOS, 14, 15, 16]])
    with torch.no_grad():
        full = torch.log_softmax(model(src, tgt), -1)
        enc = model.encode(src)
        state = model.init_state(enc)
        steps = []
        for t in range(tgt.shape[1]):
            lp, state = model.step(enc, state, tgt[:, t])
            steps.append(lp)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_registry_names_and_duplicates():
    assert {"transformer", "lstm-attention"} <= set(arch_names())
    for name, module in ARCH_MODULES.items():  # the CLI's torch-free table names each module's class
        assert ARCHS[name].__module__ == module, name
    with pytest.raises(ValueError, match="already registered"):
        register("transformer")(ARCHS["lstm-attention"])
    with pytest.raises(TypeError):
        register("not-a-model")(dict)
    assert "not-a-model" not in ARCHS

    class Bad(Seq2Seq):
        config_class = dict  # not a dataclass
    with pytest.raises(TypeError):
        register("bad")(Bad)


def test_model_config_rejects_options_of_other_archs():
    with pytest.raises(ConfigError, match="--heads does not apply to --arch lstm-attention"):
        model_config("lstm-attention", {"heads": 4, "embed_dim": 32})
    with pytest.raises(ConfigError, match="not one of"):
        model_config("rnn", {})
    cfg = model_config("transformer", {"heads": None, "embed_dim": 32})
    assert cfg.embed_dim == 32 and cfg.heads == 4  # None means the default
    with pytest.raises(ConfigError, match="joint vocabulary"):
        build_model("transformer", dict(src_vocab=10, tgt_vocab=12, share_embeddings=True))
    with pytest.raises(ConfigError, match="unknown transformer config key"):
        build_model("transformer", dict(src_vocab=10, tgt_vocab=10, colour="red"))


def test_shared_embeddings_are_one_tensor():
    m = build_model("transformer", dict(src_vocab=10, tgt_vocab=10, embed_dim=8, heads=2, share_embeddings=True))
    assert m.src_embed.weight is m.tgt_embed.weight
    n_shared = sum(p.numel() for p in m.parameters())
    m2 = build_model("transformer", dict(src_vocab=10, tgt_vocab=10, embed_dim=8, heads=2, share_embeddings=False))
    assert sum(p.numel() for p in m2.parameters()) == n_shared + 10 * 8

"""Transformer encoder-decoder (Vaswani et al. 2017) with pre-norm layers (Xiong et al. 2020).

    model = Transformer(TransformerConfig(src_vocab=8000, tgt_vocab=8000)); logits = model(src, tgt_in)

Sinusoidal positions, embeddings scaled by sqrt(d), the output layer tied to the target
embedding (full or sampled softmax; a hierarchical softmax has its own tree, `output.py`),
and (with a joint vocabulary) one embedding shared by both sides. Incremental decoding
caches each layer's self-attention keys and values. `memory` (the encoder) and `features`
(the decoder) are separate so that the model can be split into two pipeline stages
(`model_parallel.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from speechlang.accel.moe import HardMoE, MoEConfig
from speechlang.errors import ConfigError
from speechlang.nmt.output import make_output_layer
from speechlang.nmt.registry import Seq2Seq, register
from speechlang.nmt.subword import PAD


@dataclass(frozen=True)
class TransformerConfig:
    src_vocab: int = 8000
    tgt_vocab: int = 8000
    embed_dim: int = 256          # d_model; 256-512 for 1-10 M tokens
    ff_dim: int = 1024            # inner size of the feed-forward blocks (4 x embed_dim)
    heads: int = 4                # embed_dim must divide by it
    enc_layers: int = 3
    dec_layers: int = 3
    dropout: float = 0.1          # 0.1-0.3; more for small corpora
    share_embeddings: bool = True  # one embedding for source, target and output (joint vocab only)
    max_positions: int = 1024     # longest sequence (subwords, incl. eos)
    output_layer: str = "full"    # full, sampled (training only; full softmax at test) or hierarchical
    sampled_k: int = 1024         # sampled: candidate words per batch (a few % of a 50k vocabulary)
    sampled_proposal: str = "log-uniform"  # sampled: log-uniform over frequency ranks, or unigram
    moe_experts: int = 0          # > 0: each feed-forward block is a hard mixture of this many (accel.moe)


def sinusoids(n: int, d: int) -> torch.Tensor:
    """(n, d) position encodings: sin on even, cos on odd dimensions (Vaswani et al. sec. 3.5)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: d // 2])
    return pe


class Attention(nn.Module):
    """Multi-head attention; keys and values can be projected once and reused (`kv`)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.h, self.dropout = heads, dropout
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, h, T, D/h)
        B, T, D = x.shape
        return x.view(B, T, self.h, D // self.h).transpose(1, 2)

    def kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split(self.k(x)), self.split(self.v(x))

    def forward(self, x, k, v, mask=None, causal=False):
        """x (B, T, D) queries; k, v (B, h, S, D/h); mask (B, 1, 1, S) bool, True = attend."""
        q = self.split(self.q(x))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        B, _, T, _ = y.shape
        return self.o(y.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Sequential):
    def __init__(self, d: int, ff: int, dropout: float):
        super().__init__(nn.Linear(d, ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff, d))


def feed_forward(c: TransformerConfig) -> nn.Module:
    """The dense block, or with `moe_experts` a Switch-style layer of such blocks (top-1 routing
    per token; the trainer adds its load-balancing loss)."""
    if c.moe_experts:
        return HardMoE(MoEConfig(c.embed_dim, c.ff_dim, c.moe_experts, c.dropout, activation="relu"))
    return FeedForward(c.embed_dim, c.ff_dim, c.dropout)


class EncoderLayer(nn.Module):
    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.embed_dim), nn.LayerNorm(c.embed_dim)
        self.attn = Attention(c.embed_dim, c.heads, c.dropout)
        self.ff = feed_forward(c)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, *self.attn.kv(h), mask=mask))
        return x + self.drop(self.ff(self.ln2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, c: TransformerConfig):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(c.embed_dim) for _ in range(3))
        self.self_attn = Attention(c.embed_dim, c.heads, c.dropout)
        self.cross = Attention(c.embed_dim, c.heads, c.dropout)
        self.ff = feed_forward(c)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, k, v, mem_k, mem_v, mask, causal):
        """x (B, T, D); k, v: self-attention keys/values of positions <= those of x."""
        x = x + self.drop(self.self_attn(self.ln1(x), k, v, causal=causal))
        x = x + self.drop(self.cross(self.ln2(x), mem_k, mem_v, mask=mask))
        return x + self.drop(self.ff(self.ln3(x)))


@register("transformer")
class Transformer(Seq2Seq):
    config_class = TransformerConfig

    def __init__(self, c: TransformerConfig):
        super().__init__()
        if c.embed_dim % c.heads or c.embed_dim % 2:
            raise ConfigError(f"--embed-dim {c.embed_dim} must be even and divisible by --heads {c.heads}")
        if c.share_embeddings and c.src_vocab != c.tgt_vocab:
            raise ConfigError("--share-embeddings needs a joint vocabulary (prepare --joint)")
        self.config = c
        self.tgt_embed = nn.Embedding(c.tgt_vocab, c.embed_dim, padding_idx=PAD)
        self.src_embed = (self.tgt_embed if c.share_embeddings
                          else nn.Embedding(c.src_vocab, c.embed_dim, padding_idx=PAD))
        with torch.no_grad():
            for e in {id(self.src_embed): self.src_embed, id(self.tgt_embed): self.tgt_embed}.values():
                nn.init.normal_(e.weight, 0.0, c.embed_dim ** -0.5)
                e.weight[PAD].zero_()
        self.register_buffer("pe", sinusoids(c.max_positions, c.embed_dim), persistent=False)
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.enc_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.dec_layers))
        self.enc_ln, self.dec_ln = nn.LayerNorm(c.embed_dim), nn.LayerNorm(c.embed_dim)
        self.drop = nn.Dropout(c.dropout)
        self.scale = math.sqrt(c.embed_dim)
        self.output = make_output_layer(c.output_layer, c.embed_dim, c.tgt_vocab, sampled_k=c.sampled_k,
                                        sampled_proposal=c.sampled_proposal)

    def _embed(self, table: nn.Embedding, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        T = ids.shape[1]
        if start + T > self.config.max_positions:
            raise ConfigError(f"sequence of {start + T} tokens exceeds max_positions {self.config.max_positions}")
        return self.drop(table(ids) * self.scale + self.pe[start:start + T])

    def memory(self, src):
        """src (B, S) -> encoder output (B, S, D)."""
        mask = (src != PAD)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_ln(x)

    def cross_kv(self, src, mem):
        """The decoder's view of the source: key mask (B, 1, 1, S) and each layer's cross-attention keys/values."""
        enc = {"mask": (src != PAD)[:, None, None, :]}
        for i, layer in enumerate(self.decoder):
            enc[f"k{i}"], enc[f"v{i}"] = layer.cross.kv(mem)
        return enc

    def encode(self, src):
        return self.cross_kv(src, self.memory(src))

    def _logits(self, x):
        return self.output.scores(self.dec_ln(x), self.tgt_embed.weight, None)

    def features(self, enc, tgt_in):
        """Teacher-forced decoder states (B, T, D) before the final layer norm."""
        x = self._embed(self.tgt_embed, tgt_in)
        for i, layer in enumerate(self.decoder):
            h = layer.ln1(x)
            k, v = layer.self_attn.kv(h)
            x = layer(x, k, v, enc[f"k{i}"], enc[f"v{i}"], enc["mask"], causal=True)
        return x

    def output_loss(self, x, tgt_out):
        """Per-token training loss (B, T) of the output layer from decoder states (B, T, D); 0 at PAD."""
        return self.output.loss(self.dec_ln(x), tgt_out, self.tgt_embed.weight, None)

    def forward(self, src, tgt_in, tgt_out=None):
        x = self.features(self.encode(src), tgt_in)
        return self._logits(x) if tgt_out is None else self.output_loss(x, tgt_out)

    def init_state(self, enc):
        B = enc["mask"].shape[0]
        c = self.config
        empty = enc["k0"].new_zeros(B, c.heads, 0, c.embed_dim // c.heads)
        return {f"{kv}{i}": empty for i in range(c.dec_layers) for kv in "kv"}

    def step(self, enc, state, y_prev):
        t = state["k0"].shape[2]
        x = self._embed(self.tgt_embed, y_prev[:, None], start=t)
        new = {}
        for i, layer in enumerate(self.decoder):
            k, v = layer.self_attn.kv(layer.ln1(x))
            new[f"k{i}"] = torch.cat([state[f"k{i}"], k], 2)
            new[f"v{i}"] = torch.cat([state[f"v{i}"], v], 2)
            x = layer(x, new[f"k{i}"], new[f"v{i}"], enc[f"k{i}"], enc[f"v{i}"], enc["mask"], causal=False)
        return F.log_softmax(self._logits(x[:, 0]).float(), -1), new

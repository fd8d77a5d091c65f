"""Attentional LSTM encoder-decoder: bidirectional encoder, input-feeding decoder.

    model = LSTMAttention(LSTMAttentionConfig(src_vocab=8000, tgt_vocab=8000, attention="additive"))

The decoder follows Luong et al. (2015): the top LSTM state h_t queries the encoder states
m_s, the context c_t and h_t give the attentional state h~_t = tanh(W_c [c_t; h_t]) (eq. 5),
which predicts the next word and is fed to the next step's input (sec. 3.3). The score is
additive, v^T tanh(W_q h_t + W_k m_s) (Bahdanau et al. 2015, eq. 6), or multiplicative,
h_t^T W_a m_s (Luong's "general", eq. 8). h~_t feeds the output layer (`output.py`: full,
sampled or hierarchical softmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechlang.errors import ConfigError
from speechlang.nmt.output import make_output_layer
from speechlang.nmt.registry import Seq2Seq, register
from speechlang.nmt.subword import PAD

ATTENTIONS = ("additive", "multiplicative")


@dataclass(frozen=True)
class LSTMAttentionConfig:
    src_vocab: int = 8000
    tgt_vocab: int = 8000
    embed_dim: int = 256
    hidden_dim: int = 256         # per encoder direction; the decoder has 2 x hidden_dim
    enc_layers: int = 1
    dec_layers: int = 1
    attention: str = "multiplicative"  # additive (Bahdanau) or multiplicative (Luong general)
    dropout: float = 0.2
    share_embeddings: bool = False  # one source/target embedding (joint vocab only)
    output_layer: str = "full"    # full, sampled (training only; full softmax at test) or hierarchical
    sampled_k: int = 1024         # sampled: candidate words per batch (a few % of a 50k vocabulary)
    sampled_proposal: str = "log-uniform"  # sampled: log-uniform over frequency ranks, or unigram


@register("lstm-attention")
class LSTMAttention(Seq2Seq):
    config_class = LSTMAttentionConfig

    def __init__(self, c: LSTMAttentionConfig):
        super().__init__()
        if c.attention not in ATTENTIONS:
            raise ConfigError(f"--attention {c.attention!r} is not one of {', '.join(ATTENTIONS)}")
        if c.share_embeddings and c.src_vocab != c.tgt_vocab:
            raise ConfigError("--share-embeddings needs a joint vocabulary (prepare --joint)")
        self.config = c
        H, D = c.hidden_dim, 2 * c.hidden_dim
        self.tgt_embed = nn.Embedding(c.tgt_vocab, c.embed_dim, padding_idx=PAD)
        self.src_embed = (self.tgt_embed if c.share_embeddings
                          else nn.Embedding(c.src_vocab, c.embed_dim, padding_idx=PAD))
        self.encoder = nn.LSTM(c.embed_dim, H, c.enc_layers, batch_first=True, bidirectional=True,
                               dropout=c.dropout if c.enc_layers > 1 else 0.0)
        self.init_h = nn.Linear(D, c.dec_layers * D)
        self.cells = nn.ModuleList(nn.LSTMCell((c.embed_dim + D) if i == 0 else D, D) for i in range(c.dec_layers))
        if c.attention == "additive":
            self.W_k, self.W_q = nn.Linear(D, D, bias=False), nn.Linear(D, D)
            self.v = nn.Linear(D, 1, bias=False)
        else:
            self.W_k = nn.Linear(D, D, bias=False)  # W_a applied to the keys once per sentence
        self.W_c = nn.Linear(2 * D, D, bias=False)
        # the output matrix W, b of the full and sampled softmax (a hierarchical softmax has its own)
        self.out = nn.Linear(D, c.tgt_vocab) if c.output_layer != "hierarchical" else None
        self.drop = nn.Dropout(c.dropout)
        self.output = make_output_layer(c.output_layer, D, c.tgt_vocab, sampled_k=c.sampled_k,
                                        sampled_proposal=c.sampled_proposal)

    def encode(self, src):
        lengths = (src != PAD).sum(1)
        x = self.drop(self.src_embed(src))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        mem, _ = self.encoder(packed)
        mem, _ = pad_packed_sequence(mem, batch_first=True, total_length=src.shape[1])  # (B, S, 2H)
        mask = src != PAD
        return {"mem": mem, "keys": self.W_k(mem), "mask": mask, "lengths": lengths}

    def init_state(self, enc):
        mask = enc["mask"].unsqueeze(-1).to(enc["mem"].dtype)
        mean = (enc["mem"] * mask).sum(1) / mask.sum(1).clamp(min=1)
        B, L, D = mean.shape[0], self.config.dec_layers, 2 * self.config.hidden_dim
        h = torch.tanh(self.init_h(mean)).view(B, L, D)
        return {"h": h, "c": torch.zeros_like(h), "feed": mean.new_zeros(B, D)}

    def _step(self, enc, state, emb):
        """emb (B, E) -> (attentional state h~ (B, D), new state)."""
        x = torch.cat([emb, state["feed"]], -1)
        hs, cs = [], []
        for i, cell in enumerate(self.cells):
            h, c = cell(x, (state["h"][:, i], state["c"][:, i]))
            hs.append(h)
            cs.append(c)
            x = self.drop(h) if i + 1 < len(self.cells) else h
        if self.config.attention == "additive":
            scores = self.v(torch.tanh(enc["keys"] + self.W_q(h)[:, None])).squeeze(-1)  # (B, S)
        else:
            scores = torch.bmm(enc["keys"], h.unsqueeze(-1)).squeeze(-1)
        scores = scores.masked_fill(~enc["mask"], float("-inf"))
        ctx = torch.bmm(torch.softmax(scores, -1).unsqueeze(1), enc["mem"]).squeeze(1)  # (B, 2H)
        att = torch.tanh(self.W_c(torch.cat([ctx, h], -1)))
        return att, {"h": torch.stack(hs, 1), "c": torch.stack(cs, 1), "feed": att}

    def _out_params(self):
        return (self.out.weight, self.out.bias) if self.out is not None else (None, None)

    def forward(self, src, tgt_in, tgt_out=None):
        enc = self.encode(src)
        state = self.init_state(enc)
        emb = self.drop(self.tgt_embed(tgt_in))
        outs = []
        for t in range(tgt_in.shape[1]):
            att, state = self._step(enc, state, emb[:, t])
            outs.append(att)
        h = self.drop(torch.stack(outs, 1))
        if tgt_out is None:
            return self.output.scores(h, *self._out_params())
        return self.output.loss(h, tgt_out, *self._out_params())

    def step(self, enc, state, y_prev):
        att, state = self._step(enc, state, self.drop(self.tgt_embed(y_prev)))
        return F.log_softmax(self.output.scores(att, *self._out_params()).float(), -1), state

"""Decoding: greedy search, beam search with length penalty, and ensembles of models.

    hyps = beam_search(model, src, beam=5, max_len=max_len_for(src, 1.5, 10))  # per sentence: [(ids, score)]

Scores are sums of token log-probabilities (the final eos included); with length penalty
alpha the ranking score is score / len^alpha (fairseq's `lenpen`, len counting eos).
A hypothesis must end within `max_len` tokens plus eos: at that step eos is forced.
As in fairseq, the 2*beam best candidates are scored each step; an eos among the first
`beam` of them finishes a hypothesis, the best `beam` others stay active, and a sentence is
done once `beam` hypotheses finished. With beam 1 this is greedy search.
pad, bos and unk are never output.
"""

from __future__ import annotations

import torch

from speechlang.nmt.registry import Seq2Seq
from speechlang.nmt.subword import BOS, EOS, PAD, UNK


def select(d: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reorder (or expand) every batch-first tensor of an encoder output or decoder state."""
    return {k: v.index_select(0, idx) for k, v in d.items()}


class Ensemble(Seq2Seq):
    """Several models decoded as one: the step's log-probs are the mean of the models'."""

    def __init__(self, models: list[Seq2Seq]):
        super().__init__()
        self.models = torch.nn.ModuleList(models)

    def encode(self, src):
        return {f"{i}.{k}": v for i, m in enumerate(self.models) for k, v in m.encode(src).items()}

    @staticmethod
    def _part(d, i):
        p = f"{i}."
        return {k[len(p):]: v for k, v in d.items() if k.startswith(p)}

    def init_state(self, enc):
        return {f"{i}.{k}": v for i, m in enumerate(self.models)
                for k, v in m.init_state(self._part(enc, i)).items()}

    def step(self, enc, state, y_prev):
        total, new = None, {}
        for i, m in enumerate(self.models):
            lp, st = m.step(self._part(enc, i), self._part(state, i), y_prev)
            total = lp if total is None else total + lp
            new.update({f"{i}.{k}": v for k, v in st.items()})
        return total / len(self.models), new


def max_len_for(src: torch.Tensor, ratio: float, extra: int) -> int:
    """The output length limit for a batch: ratio * longest source (without eos) + extra."""
    return int(ratio * int((src != PAD).sum(1).max() - 1) + extra)


def _mask_specials(lp: torch.Tensor) -> torch.Tensor:
    """Never output pad, bos or unk (an unknown piece would print as a placeholder)."""
    lp[:, PAD] = float("-inf")
    lp[:, UNK] = float("-inf")
    lp[:, BOS] = float("-inf")
    return lp


@torch.no_grad()
def greedy_search(model: Seq2Seq, src: torch.Tensor, max_len: int) -> list[list[tuple[list[int], float]]]:
    """src (B, S) -> per sentence [(ids without eos, log-prob sum)]; the argmax at each step."""
    B = src.shape[0]
    enc = model.encode(src)
    state = model.init_state(enc)
    y = torch.full((B,), BOS, dtype=torch.long, device=src.device)
    out = [[] for _ in range(B)]
    score = torch.zeros(B, dtype=torch.float64)
    alive = torch.ones(B, dtype=torch.bool)
    for t in range(max_len + 1):
        lp, state = model.step(enc, state, y)
        lp = _mask_specials(lp)
        if t == max_len:
            lp[:, :EOS] = float("-inf")
            lp[:, EOS + 1:] = float("-inf")
        best, y = lp.max(-1)
        for b in torch.nonzero(alive).flatten().tolist():
            score[b] += float(best[b])
            if int(y[b]) == EOS:
                alive[b] = False
            else:
                out[b].append(int(y[b]))
        if not alive.any():
            break
    return [[(out[b], float(score[b]))] for b in range(B)]


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, beam: int, max_len: int, *, len_penalty: float = 1.0,
                nbest: int = 1) -> list[list[tuple[list[int], float]]]:
    """src (B, S) -> per sentence up to `nbest` (ids without eos, log-prob sum), best first
    by score / len^len_penalty."""
    B, K, dev = src.shape[0], beam, src.device
    nbest = min(nbest, K)
    enc = select(model.encode(src), torch.arange(B, device=dev).repeat_interleave(K))
    state = model.init_state(enc)
    scores = torch.full((B, K), float("-inf"), dtype=torch.float64, device=dev)
    scores[:, 0] = 0.0  # at first, all K copies are the same: expand one
    tokens = torch.full((B * K, 0), BOS, dtype=torch.long, device=dev)
    y = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
    finished: list[list[tuple[float, list[int], float]]] = [[] for _ in range(B)]
    done = [False] * B
    for t in range(max_len + 1):
        lp, state = model.step(enc, state, y)
        lp = _mask_specials(lp.double())
        if t == max_len:
            eos = lp[:, EOS].clone()
            lp.fill_(float("-inf"))
            lp[:, EOS] = eos
        V = lp.shape[1]
        cand = (scores.view(B * K, 1) + lp).view(B, K * V)
        n_cand = min(2 * K, K * V)
        top, idx = cand.topk(n_cand, dim=1)  # (B, 2K)
        beam_of, tok = idx // V, idx % V
        is_eos = (tok == EOS) & torch.isfinite(top)
        # finished hypotheses: eos among the first K candidates of a sentence not yet done
        eos_b, eos_j = torch.nonzero(is_eos[:, :K], as_tuple=True)
        for b, j in zip(eos_b.tolist(), eos_j.tolist(), strict=True):
            if done[b] or len(finished[b]) >= K:
                continue
            raw = float(top[b, j])
            ids = tokens[b * K + int(beam_of[b, j])].tolist()
            finished[b].append((raw / (len(ids) + 1) ** len_penalty, ids, raw))
        for b in range(B):
            if not done[b] and (len(finished[b]) >= K or t == max_len):
                done[b] = True
        if all(done):
            break
        # the K best non-eos candidates stay active (stable order: eos ones sort last)
        rank = is_eos.long() * n_cand + torch.arange(n_cand, device=dev)
        keep = rank.argsort(dim=1, stable=True)[:, :K]
        new_scores = top.gather(1, keep).masked_fill(is_eos.gather(1, keep), float("-inf"))
        src_row = (beam_of.gather(1, keep) + torch.arange(B, device=dev)[:, None] * K).flatten()
        y = tok.gather(1, keep).flatten()
        scores = new_scores
        tokens = torch.cat([tokens.index_select(0, src_row), y[:, None]], 1)
        state = select(state, src_row)
    out = []
    for b in range(B):
        hyps = sorted(finished[b], key=lambda h: -h[0])[:nbest]
        out.append([(ids, raw) for _, ids, raw in hyps])
    return out


def translate_batch(model: Seq2Seq, src: torch.Tensor, *, beam: int = 5, len_penalty: float = 1.0,
                    max_len_ratio: float = 1.5, max_len_extra: int = 10, nbest: int = 1):
    """Greedy search when beam == 1 and nbest == 1, else beam search."""
    max_len = max_len_for(src, max_len_ratio, max_len_extra)
    if beam == 1 and nbest == 1:
        return greedy_search(model, src, max_len)
    return beam_search(model, src, beam, max_len, len_penalty=len_penalty, nbest=nbest)

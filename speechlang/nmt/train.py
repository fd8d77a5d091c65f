"""`nmt train`: a seq2seq model on a prepared-data directory, through the shared accel loop.

    train(NMTConfig(data="exp/data", arch="transformer"), TrainConfig(lr=7e-4, schedule="inverse-sqrt"), "exp/tf")

Batches hold about `max_tokens` padded tokens of sentences of similar length (fairseq's
token-based batching); the loss is label-smoothed cross-entropy per target token (Szegedy
et al. 2016), or the sampled or hierarchical softmax's loss (`output.py`). With
`model_parallel` 2 the Transformer is split over two processes (`model_parallel.py`).
After each epoch the dev set gives the loss and the BLEU of greedy output; a dev output
that is mostly one sentence (the usual small-data failure) is warned about.
"""

from __future__ import annotations

import collections
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from speechlang import log
from speechlang.accel import TrainConfig, derive_seed, fit, set_seed
from speechlang.accel.distributed import DistEnv, env_from_torchrun
from speechlang.accel.moe import moe_loss
from speechlang.errors import ConfigError
from speechlang.nmt import model_parallel
from speechlang.nmt.encoded import read_meta, read_side
from speechlang.nmt.prepare import load_vocabs
from speechlang.nmt.registry import build_model, model_config
from speechlang.nmt.score import score_corpus
from speechlang.nmt.search import translate_batch
from speechlang.nmt.subword import BOS, EOS, PAD

DEGENERATE_SHARE = 0.5  # warn when this share of dev outputs is one and the same sentence


@dataclass(frozen=True)
class NMTConfig:
    data: str = field(default="", metadata={"help": "prepared-data directory (nmt prepare)"})
    arch: str = field(default="transformer", metadata={"help": "architecture name"})
    model: dict = field(default_factory=dict, metadata={"help": "architecture options (None: default)"})
    max_tokens: int = field(default=4096, metadata={"help": "padded tokens per batch (source or target side)"})
    label_smoothing: float = field(default=0.1, metadata={"help": "0.1 is usual; 0 = plain cross-entropy"})
    dev_bleu_sents: int = field(default=0, metadata={"help": "dev sentences decoded for BLEU each epoch (0: all)"})
    model_parallel: int = field(default=1, metadata={"help": "2: the transformer split over two processes "
                                                             "(model_parallel.py); 1: one process"})
    micro_batches: int = field(default=1, metadata={"help": "model parallel: pieces each batch is pipelined in"})

    def check(self) -> None:
        if self.max_tokens < 16:
            raise ConfigError("--max-tokens must be >= 16")
        if self.model_parallel not in (1, 2):
            raise ConfigError(f"--model-parallel {self.model_parallel}: 1 or 2 (encoder | decoder) stages")
        if self.micro_batches < 1:
            raise ConfigError("--micro-batches must be >= 1")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("--label-smoothing must be in [0, 1)")


def pad_batch(seqs: list[np.ndarray], bos: bool, eos: bool, max_len: int = 0) -> torch.Tensor:
    """(B, T) int64 ids padded with PAD at the end; bos/eos added around each sequence."""
    if max_len:
        seqs = [s[:max_len] for s in seqs]
    T = max(len(s) for s in seqs) + bos + eos
    out = np.full((len(seqs), T), PAD, np.int64)
    for i, s in enumerate(seqs):
        row = ([BOS] if bos else []) + [int(x) for x in s] + ([EOS] if eos else [])
        out[i, :len(row)] = row
    return torch.from_numpy(out)


def token_batches(src_len: np.ndarray, tgt_len: np.ndarray, max_tokens: int, *, epoch: int, seed: int,
                  env: DistEnv = DistEnv(), shuffle: bool = True) -> list[np.ndarray]:
    """Batches of sentence indices with (count x longest side, + 1 for eos) <= max_tokens,
    sorted by length within a seeded shuffle, in seeded random order; this rank's share."""
    n = len(src_len)
    rng = np.random.default_rng(derive_seed(seed, epoch, 0xBA7C))
    perm = rng.permutation(n) if shuffle else np.arange(n)
    size = np.maximum(src_len, tgt_len)[perm] + 1
    order = perm[np.argsort(size, kind="stable")]
    batches, start, longest = [], 0, 0
    for i, idx in enumerate(order):
        longest_new = max(longest, int(max(src_len[idx], tgt_len[idx])) + 1)
        if i > start and longest_new * (i - start + 1) > max_tokens:
            batches.append(order[start:i])
            start, longest_new = i, int(max(src_len[idx], tgt_len[idx])) + 1
        longest = longest_new
    batches.append(order[start:])
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    if env.world_size > 1:
        batches = batches[: len(batches) - len(batches) % env.world_size][env.rank::env.world_size]
    return batches


class Split:
    """One split of a prepared-data directory: memory-mapped ids of both sides."""

    def __init__(self, data: str | os.PathLike, split: str, meta: dict):
        self.src_ids, self.src_off = read_side(data, split, meta["src"], meta["vocab_size"]["src"])
        self.tgt_ids, self.tgt_off = read_side(data, split, meta["tgt"], meta["vocab_size"]["tgt"])
        if len(self.src_off) != len(self.tgt_off):
            raise ConfigError(f"{data}: {split} sides have different sentence counts; rerun nmt prepare")
        self.src_len, self.tgt_len = np.diff(self.src_off), np.diff(self.tgt_off)

    def __len__(self) -> int:
        return len(self.src_len)

    def src(self, i: int) -> np.ndarray:
        return self.src_ids[self.src_off[i]:self.src_off[i + 1]]

    def tgt(self, i: int) -> np.ndarray:
        return self.tgt_ids[self.tgt_off[i]:self.tgt_off[i + 1]]

    def batch(self, idx, max_len: int):
        """(src + eos, bos + tgt, tgt + eos) tensors of sentences `idx`."""
        srcs, tgts = [self.src(i) for i in idx], [self.tgt(i) for i in idx]
        return (pad_batch(srcs, False, True, max_len), pad_batch(tgts, True, False, max_len),
                pad_batch(tgts, False, True, max_len))


def nmt_loss(model, batch, label_smoothing: float, output_layer: str = "full") -> tuple[torch.Tensor, int]:
    """Label-smoothed cross-entropy per target token (full softmax) or the output layer's own
    training loss per token (sampled, hierarchical; `output.py`), plus any mixture-of-experts
    balancing loss, and the token count."""
    src, tgt_in, tgt_out = batch
    ntok = int((tgt_out != PAD).sum())
    if output_layer == "full":
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt_out.reshape(-1),
                               ignore_index=PAD, label_smoothing=label_smoothing)
    else:
        loss = model(src, tgt_in, tgt_out).sum() / max(ntok, 1)
    return loss + moe_loss(model), ntok


def stage_loss_sum(model, x, tgt_out, label_smoothing: float) -> torch.Tensor:
    """The summed training loss of a Transformer's decoder states x (B, T, D): the last pipeline
    stage's part of `nmt_loss`."""
    if model.config.output_layer == "full":
        logits = model._logits(x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt_out.reshape(-1),
                               ignore_index=PAD, label_smoothing=label_smoothing, reduction="sum")
    return model.output_loss(x, tgt_out).sum()


def target_counts(split: Split, vocab_size: int) -> torch.Tensor:
    """How often each target id occurs in a split, eos once per sentence: (V,) int64."""
    counts = np.bincount(np.asarray(split.tgt_ids), minlength=vocab_size)[:vocab_size].astype(np.int64)
    counts[EOS] += len(split)
    return torch.from_numpy(counts)


def degenerate_share(hyps: list[str]) -> tuple[float, str]:
    """Share of outputs equal to the most common one, and that output."""
    if not hyps:
        return 0.0, ""
    text, count = collections.Counter(hyps).most_common(1)[0]
    return count / len(hyps), text


def make_evaluate(dev: Split, refs: list[str], tgt_vocab, cfg: NMTConfig, max_len: int):
    """evaluate(model) -> {"dev_loss", "dev_ppl", "bleu", "same_output"} on the dev split."""
    n_bleu = len(dev) if cfg.dev_bleu_sents <= 0 else min(cfg.dev_bleu_sents, len(dev))
    batches = token_batches(dev.src_len, dev.tgt_len, cfg.max_tokens, epoch=0, seed=0, shuffle=False)

    def evaluate(model) -> dict:
        device = next(model.parameters()).device
        nll, ntok = 0.0, 0
        hyps: dict[int, str] = {}
        layer = getattr(getattr(model, "config", None), "output_layer", "full")
        for idx in batches:
            src, tgt_in, tgt_out = (t.to(device) for t in dev.batch(idx, max_len))
            if layer == "full":
                logits = model(src, tgt_in)
                nll += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt_out.reshape(-1),
                                             ignore_index=PAD, reduction="sum"))
            else:  # in eval mode: the full softmax's (sampled) or the exact tree path's (hierarchical)
                nll += float(model(src, tgt_in, tgt_out).sum())
            ntok += int((tgt_out != PAD).sum())
            sel = [j for j, i in enumerate(idx) if i < n_bleu]
            if sel:
                out = translate_batch(model, src[sel], beam=1)
                for j, o in zip(sel, out, strict=True):
                    hyps[int(idx[j])] = tgt_vocab.decode(o[0][0])
        hyp_list = [hyps[i] for i in range(n_bleu)]
        bleu = score_corpus(hyp_list, refs[:n_bleu])["bleu"]
        share, text = degenerate_share(hyp_list)
        if share > DEGENERATE_SHARE and len(set(refs[:n_bleu])) > 1:
            log.warn(f"degenerate output: {100 * share:.0f}% of the dev translations are the same "
                     f"sentence ({text[:60]!r}); the model ignores its input: train longer, lower --lr, "
                     "or use more data / a smaller model")
        loss = nll / max(ntok, 1)
        return {"dev_loss": loss, "dev_ppl": math.exp(min(loss, 50)), "bleu": bleu, "same_output": share}

    return evaluate


def train(cfg: NMTConfig, tcfg: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = False) -> dict:
    """Train and checkpoint into `out_dir`; returns a summary (epochs, best metric, minutes)."""
    cfg.check()
    if resume and cfg.model_parallel > 1:
        raise ConfigError("--resume is not supported with --model-parallel")
    if resume and not Path(out_dir, "checkpoint_last.pt").is_file():
        raise ConfigError(f"--resume: no checkpoint_last.pt in {out_dir}; run without --resume to start afresh")
    meta = read_meta(cfg.data)
    src_vocab, tgt_vocab = load_vocabs(cfg.data, meta)
    train_split = Split(cfg.data, "train", meta)
    if not Path(cfg.data, f"dev.{meta['tgt']}.txt").is_file():
        raise ConfigError(f"{cfg.data}: no dev split; run nmt prepare with --dev (needed for "
                          "validation and early stopping)")
    dev = Split(cfg.data, "dev", meta)
    refs = Path(cfg.data, f"dev.{meta['tgt']}.txt").read_text("utf-8").splitlines()
    mcfg = model_config(cfg.arch, {**cfg.model, "src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab)})
    layer = getattr(mcfg, "output_layer", "full")
    if layer != "full" and cfg.label_smoothing > 0:
        raise ConfigError(f"--label-smoothing applies to --output-layer full only; use --label-smoothing 0 "
                          f"with --output-layer {layer}")
    if cfg.model_parallel > 1:
        if cfg.arch != "transformer":
            raise ConfigError("--model-parallel splits --arch transformer only")
        if env_from_torchrun().world_size == 1:  # not under torchrun: start the stages here
            return model_parallel.spawn(train, cfg.model_parallel, cfg, tcfg, out_dir)
    set_seed(derive_seed(tcfg.seed, 0x1417), numba_too=False)  # parameter init
    model = build_model(cfg.arch, mcfg)
    model.output.set_counts(target_counts(train_split, len(tgt_vocab)))  # sampled: proposal; hierarchical: tree
    max_len = getattr(mcfg, "max_positions", 1024) - 1
    n_params = sum(p.numel() for p in model.parameters())
    log.info(f"{cfg.arch}: {n_params / 1e6:.2f} M parameters, {layer} softmax output; {len(train_split)} "
             f"training pairs, {int(train_split.tgt_len.sum())} target tokens")
    extra = {"arch": cfg.arch, "src": meta["src"], "tgt": meta["tgt"], "nmt": asdict(cfg),
             "spm_src": torch.frombuffer(bytearray(src_vocab.proto), dtype=torch.uint8),
             "spm_tgt": torch.frombuffer(bytearray(tgt_vocab.proto), dtype=torch.uint8)}

    t0 = time.perf_counter()

    def batches(epoch: int, env: DistEnv):
        for idx in token_batches(train_split.src_len, train_split.tgt_len, cfg.max_tokens,
                                 epoch=epoch, seed=tcfg.seed, env=env):
            yield train_split.batch(idx, max_len)

    n_batches = len(token_batches(train_split.src_len, train_split.tgt_len, cfg.max_tokens, epoch=0,
                                  seed=tcfg.seed))

    def loss_fn(m, b):
        return nmt_loss(m, b, cfg.label_smoothing, layer)

    evaluate = make_evaluate(dev, refs, tgt_vocab, cfg, max_len)
    if cfg.model_parallel > 1:
        result = model_parallel.fit_pipeline(
            model, lambda m, x, y: stage_loss_sum(m, x, y, cfg.label_smoothing), batches, tcfg,
            rebuild=lambda: build_model(cfg.arch, mcfg), micro_batches=cfg.micro_batches, evaluate=evaluate,
            out_dir=out_dir, steps_per_epoch=n_batches, model_config=asdict(mcfg), extra=extra)
    else:
        result = fit(model, loss_fn, batches, tcfg, evaluate=evaluate, out_dir=out_dir,
                     resume=resume, steps_per_epoch=n_batches, model_config=asdict(mcfg), extra=extra,
                     desc=f"nmt {cfg.arch}", unit="tokens")
    minutes = (time.perf_counter() - t0) / 60
    return {"arch": cfg.arch, "output_layer": layer, "model_parallel": cfg.model_parallel, "params": n_params,
            "epochs": result.epochs, "steps": result.steps,
            "best": result.best, "best_epoch": result.best_epoch, "monitor": tcfg.monitor,
            "stopped_early": result.stopped_early, "train_minutes": round(minutes, 2),
            "history": result.history}

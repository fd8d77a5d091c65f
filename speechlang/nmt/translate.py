"""`nmt translate`: text in, translations out, with one model or an ensemble of checkpoints.

    model, (sv, tv) = load_models(["exp/tf/checkpoint_best.pt"])
    for line in translate_lines(src_lines, model, sv, tv, TranslateConfig(beam=5)): print(line)

Sentences are decoded in batches of similar length and written back in input order; an
empty input line gives an empty output line. Checkpoints carry their sentencepiece models;
`vocab_dir` (a prepared-data directory) is checked against them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from speechlang import log
from speechlang.accel import load_checkpoint
from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import atomic_output, check_writable, iter_lines
from speechlang.nmt.encoded import read_meta
from speechlang.nmt.prepare import load_vocabs
from speechlang.nmt.registry import Seq2Seq, build_model
from speechlang.nmt.search import Ensemble, translate_batch
from speechlang.nmt.subword import Vocab
from speechlang.nmt.train import pad_batch
from speechlang.nmt.words import WordVocab, vocab_from_bytes


@dataclass(frozen=True)
class TranslateConfig:
    beam: int = field(default=5, metadata={"help": "beam size (1: greedy search)"})
    len_penalty: float = field(default=1.0, metadata={"help": "rank by score / length^this (0: raw log-prob)"})
    max_len_ratio: float = field(default=1.5, metadata={"help": "output limit: ratio x source length + extra"})
    max_len_extra: int = field(default=10, metadata={"help": "output limit: ratio x source length + extra"})
    nbest: int = field(default=1, metadata={"help": "hypotheses per sentence (TSV: index, score, text)"})
    batch_size: int = field(default=32, metadata={"help": "sentences per batch"})
    max_src_len: int = field(default=0, metadata={"help": "truncate longer inputs (subwords; 0: the model's limit)"})

    def check(self) -> None:
        if self.beam < 1 or self.nbest < 1 or self.batch_size < 1:
            raise ConfigError("--beam, --nbest and --batch-size must be >= 1")
        if self.nbest > self.beam:
            raise ConfigError(f"--nbest {self.nbest} is larger than --beam {self.beam}")
        if self.max_len_ratio < 0 or self.max_len_extra < 0:
            raise ConfigError("--max-len-ratio and --max-len-extra must be >= 0")


def _vocab_of(ck: dict, side: str, path) -> Vocab | WordVocab:
    t = ck["extra"][f"spm_{side}"]  # a sentencepiece model or a word list (the key predates word lists)
    return vocab_from_bytes(t.numpy().tobytes(), f"{path} ({side} vocabulary)")


def load_models(paths: list[str | os.PathLike], vocab_dir: str | os.PathLike | None = None,
                device: torch.device | str = "cpu") -> tuple[Seq2Seq, tuple[Vocab | WordVocab, Vocab | WordVocab]]:
    """The model (an Ensemble when several paths) in eval mode and its (source, target) vocabularies.

    Raises DataError when the checkpoints' vocabularies differ from each other or from `vocab_dir`.
    """
    if not paths:
        raise ConfigError("--model is required (one or more checkpoints)")
    models, vocabs = [], None
    for p in paths:
        ck = load_checkpoint(p)
        extra = ck.get("extra") or {}
        if "arch" not in extra or "spm_src" not in extra:
            raise FormatError(f"{p}: not an nmt checkpoint (no architecture or vocabulary); "
                              "use one written by `speechlang nmt train` or `nmt average`")
        model = build_model(extra["arch"], ck["model_config"])
        try:
            model.load_state_dict(ck["model"])
        except RuntimeError as e:
            raise FormatError(f"{p}: parameters do not fit the stored configuration: "
                              f"{str(e).splitlines()[0]}") from None
        v = (_vocab_of(ck, "src", p), _vocab_of(ck, "tgt", p))
        cfg = ck["model_config"]
        if len(v[0]) != cfg["src_vocab"] or len(v[1]) != cfg["tgt_vocab"]:
            raise DataError(f"{p}: model expects vocabularies of {cfg['src_vocab']}/{cfg['tgt_vocab']} "
                            f"but carries {len(v[0])}/{len(v[1])}")
        if vocabs is None:
            vocabs = v
        elif (v[0].sha256, v[1].sha256) != (vocabs[0].sha256, vocabs[1].sha256):
            raise DataError(f"{p}: trained with a different vocabulary than {paths[0]}; "
                            "an ensemble needs models of one prepared-data directory")
        models.append(model.to(device).eval())
    if vocab_dir is not None:
        meta = read_meta(vocab_dir)
        given = load_vocabs(vocab_dir, meta)
        for side, a, b in (("source", given[0], vocabs[0]), ("target", given[1], vocabs[1])):
            if a.sha256 != b.sha256:
                raise DataError(f"{paths[0]} and {vocab_dir} do not match: the model was trained with a "
                                f"different {side} vocabulary ({len(b)} entries) than {vocab_dir} has "
                                f"({len(a)} entries); use the prepared directory the model was trained on")
    model = models[0] if len(models) == 1 else Ensemble(models).eval()
    return model, vocabs


def _max_src(model: Seq2Seq) -> int:
    ms = [model] if not isinstance(model, Ensemble) else list(model.models)
    return min(getattr(m.config, "max_positions", 1 << 20) for m in ms) - 1


@torch.no_grad()
def translate_lines(lines: Iterable[str], model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab,
                    cfg: TranslateConfig, *, chunk: int = 2000, name: str = "<stdin>") -> Iterator[str]:
    """Yield one output line per input line (n-best: `nbest` TSV lines `index<TAB>score<TAB>text`)."""
    cfg.check()
    limit = _max_src(model) if cfg.max_src_len <= 0 else min(cfg.max_src_len, _max_src(model))
    device = next(model.parameters()).device
    buf: list[str] = []
    n_trunc, base = 0, 0

    def flush(buf: list[str], base: int) -> Iterator[str]:
        nonlocal n_trunc
        ids = src_vocab.encode(buf)
        for i, x in enumerate(ids):
            if len(x) > limit:
                if n_trunc == 0:
                    log.warn(f"{name}:{base + i + 1}: {len(x)} subwords, truncated to {limit} "
                             "(raise --max-src-len or split long lines)")
                n_trunc += 1
                ids[i] = x[:limit]
        outs: list[list[tuple[list[int], float]]] = [[] for _ in buf]
        order = [i for i in np.argsort([len(x) for x in ids], kind="stable") if ids[i]]
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            src = pad_batch([np.asarray(ids[i]) for i in idx], False, True).to(device)
            res = translate_batch(model, src, beam=cfg.beam, len_penalty=cfg.len_penalty,
                                  max_len_ratio=cfg.max_len_ratio, max_len_extra=cfg.max_len_extra,
                                  nbest=cfg.nbest)
            for i, r in zip(idx, res, strict=True):
                outs[i] = r
        for i, hyps in enumerate(outs):
            if cfg.nbest == 1:
                yield tgt_vocab.decode(hyps[0][0]) if hyps else ""
            else:
                for ids_, score in hyps or [([], 0.0)]:
                    norm = score / (len(ids_) + 1) ** cfg.len_penalty
                    yield f"{base + i}\t{norm:.4f}\t{tgt_vocab.decode(ids_)}"

    for line in lines:
        buf.append(line.strip())
        if len(buf) >= chunk:
            yield from flush(buf, base)
            base += len(buf)
            buf = []
    if buf:
        yield from flush(buf, base)
    if n_trunc > 1:
        log.warn(f"{n_trunc} input lines were longer than {limit} subwords and were truncated")


def translate_file(paths: list[str], input_path, output_path, cfg: TranslateConfig,
                   vocab_dir=None, device="cpu", quantize: bool = False) -> int:
    """Translate a file or stdin into a file or stdout (written atomically); returns the line count.
    `quantize`: int8 dynamic quantization of the Linear layers (CPU)."""
    check_writable(output_path)
    model, (sv, tv) = load_models(paths, vocab_dir, "cpu" if quantize else device)
    if quantize:
        from speechlang.accel.compress import quantize_int8

        model = quantize_int8(model)
    n = 0
    name = "<stdin>" if input_path in (None, "-", "") else str(Path(input_path))
    with atomic_output(output_path) as f:
        for out in translate_lines(iter_lines(input_path), model, sv, tv, cfg, name=name):
            f.write(out + "\n")
            n += 1
        if n == 0:  # a per-sentence tool that did nothing has failed (and leaves no file)
            raise DataError(f"{name}: no sentences to translate (the input is empty)")
    return n

"""`nmt prepare`: train sentencepiece model(s), or word lists, and cache every split as token-id arrays.

    prepare(PrepareConfig(train="data/bible.train", dev="data/bible.dev", src="en", tgt="es"), "exp/data")

`model_type` word makes word-level vocabularies instead (`words.py`: whitespace tokens, the
most frequent `vocab_size` types, the rest <unk>); the arrays and metadata are the same, so
`train` and `translate` take either. Training pairs with a side longer than `max_len` tokens,
or a length ratio above `max_ratio`, are dropped (fairseq's clean-corpus-n step); dev and
test pairs are kept whole. Empty pairs are skipped in every split. The counts are logged and
stored in meta.json.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from speechlang import log
from speechlang.errors import ConfigError
from speechlang.io import atomic_dir
from speechlang.nmt.corpus import PairStats, iter_pairs, keep_pair
from speechlang.nmt.encoded import write_meta, write_side
from speechlang.nmt.subword import MODEL_TYPES, UNK, Vocab, train_subword
from speechlang.nmt.words import WordVocab, load_vocab, train_words

VOCAB_TYPES = (*MODEL_TYPES, "word")


@dataclass(frozen=True)
class PrepareConfig:
    train: str = field(default="", metadata={"help": "training file prefix: PREFIX.SRC and PREFIX.TGT"})
    dev: str = field(default="", metadata={"help": "dev file prefix (early stopping, BLEU each epoch)"})
    test: str = field(default="", metadata={"help": "test file prefix (optional)"})
    src: str = field(default="en", metadata={"help": "source language suffix"})
    tgt: str = field(default="es", metadata={"help": "target language suffix"})
    model_type: str = field(default="unigram", metadata={"help": "sentencepiece unigram or bpe, or word"})
    vocab_size: int = field(default=8000, metadata={"help": "vocabulary size per model, specials included "
                                                             "(word: 0 keeps every type)"})
    min_count: int = field(default=1, metadata={"help": "word: keep types seen at least this often"})
    joint: bool = field(default=True, metadata={"help": "one model for both sides (allows shared embeddings)"})
    max_len: int = field(default=250, metadata={"help": "drop training pairs with a longer side (tokens; 0: off)"})
    max_ratio: float = field(default=3.0, metadata={"help": "drop training pairs with a larger length ratio (0: off)"})
    seed: int = 1

    def check(self) -> None:
        if not self.train:
            raise ConfigError("--train PREFIX is required (files PREFIX.SRC and PREFIX.TGT)")
        if self.model_type not in VOCAB_TYPES:
            raise ConfigError(f"--model-type {self.model_type!r} is not one of {', '.join(VOCAB_TYPES)}")
        if self.model_type != "word" and self.vocab_size < 8:
            raise ConfigError("--vocab-size must be >= 8 for sentencepiece models")
        if self.model_type != "word" and self.min_count != 1:
            raise ConfigError("--min-count applies to --model-type word only")
        if self.src == self.tgt:
            raise ConfigError("--src and --tgt must differ")
        if self.max_ratio and self.max_ratio < 1:
            raise ConfigError("--max-ratio must be >= 1 (or 0: off)")


def _read(prefix: str, cfg: PrepareConfig, split: str) -> tuple[list[str], list[str], PairStats]:
    stats = PairStats()
    src, tgt = [], []
    for _, x, y in iter_pairs(f"{prefix}.{cfg.src}", f"{prefix}.{cfg.tgt}", stats):
        src.append(x)
        tgt.append(y)
    if stats.empty:
        log.warn(f"{split}: skipped {stats.empty} empty pair(s) (first at {prefix}.{cfg.src}/"
                 f"{cfg.tgt}:{stats.first_empty})")
    return src, tgt, stats


def prepare(cfg: PrepareConfig, out_dir: str | os.PathLike) -> dict:
    """Build the prepared-data directory `out_dir` atomically; returns the metadata written."""
    cfg.check()
    splits = {k: p for k, p in (("train", cfg.train), ("dev", cfg.dev), ("test", cfg.test)) if p}
    data = {k: _read(p, cfg, k) for k, p in splits.items()}
    tr_src, tr_tgt, _ = data["train"]
    if not tr_src:
        raise ConfigError(f"{cfg.train}.{cfg.src}: no non-empty training pairs")
    words = cfg.model_type == "word"
    sides = (("src", cfg.src, tr_src), ("tgt", cfg.tgt, tr_tgt)) if not cfg.joint else (("src", "", tr_src + tr_tgt),)
    with atomic_dir(out_dir) as d:
        vocabs, files = {}, {}
        for side, lang, lines in sides:
            files[side] = ("vocab.txt" if words else "spm.model") if not lang else \
                (f"vocab.{lang}.txt" if words else f"spm.{lang}.model")
            proto = (train_words(lines, cfg.vocab_size, cfg.min_count) if words
                     else train_subword(lines, cfg.model_type, cfg.vocab_size, cfg.seed))
            (d / files[side]).write_bytes(proto)
            vocabs[side] = (WordVocab if words else Vocab)(proto, files[side])
        if cfg.joint:
            vocabs["tgt"], files["tgt"] = vocabs["src"], files["src"]
        if words:
            log.info(f"word vocabularies: source {len(vocabs['src'])}, target {len(vocabs['tgt'])} entries "
                     "(specials included)")
        report = {}
        for split, (src, tgt, stats) in data.items():
            xs, ys = vocabs["src"].encode(src), vocabs["tgt"].encode(tgt)
            keep = [i for i in range(len(xs))
                    if keep_pair(len(xs[i]), len(ys[i]), cfg.max_len if split == "train" else 0,
                                 cfg.max_ratio if split == "train" else 0, stats)]
            if not keep:
                raise ConfigError(f"{split}: every pair was filtered out; raise --max-len or --max-ratio")
            ntok_src = write_side(d, split, cfg.src, [xs[i] for i in keep])
            ntok_tgt = write_side(d, split, cfg.tgt, [ys[i] for i in keep])
            if split != "train":
                for lang, lines in ((cfg.src, src), (cfg.tgt, tgt)):
                    (d / f"{split}.{lang}.txt").write_text("".join(lines[i] + "\n" for i in keep), "utf-8")
            rec = {k: v for k, v in asdict(stats).items() if k not in ("extra",)}
            rec.update(tokens_src=ntok_src, tokens_tgt=ntok_tgt)
            if words:  # tokens outside the word list
                rec.update(unk_src=sum(xs[i].count(UNK) for i in keep), unk_tgt=sum(ys[i].count(UNK) for i in keep))
            report[split] = rec
            log.info(f"{split}: {stats.lines} lines, kept {stats.kept} pairs ({ntok_src} + {ntok_tgt} tokens); "
                     f"dropped {stats.empty} empty, {stats.too_long} longer than {cfg.max_len}, "
                     f"{stats.bad_ratio} with length ratio > {cfg.max_ratio}")
        meta = {"config": asdict(cfg), "src": cfg.src, "tgt": cfg.tgt, "joint": cfg.joint,
                "spm": files, "vocab_size": {s: len(v) for s, v in vocabs.items()},
                "sha256": {s: v.sha256 for s, v in vocabs.items()}, "splits": report}
        meta = write_meta(d, meta)
    return meta


def load_vocabs(data_dir: str | os.PathLike, meta: dict) -> tuple[Vocab | WordVocab, Vocab | WordVocab]:
    """The (source, target) vocabularies (sentencepiece or word) of a prepared-data directory."""
    d = Path(data_dir)
    return load_vocab(d / meta["spm"]["src"]), load_vocab(d / meta["spm"]["tgt"])

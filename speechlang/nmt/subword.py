"""Subword vocabularies: sentencepiece unigram or BPE models, joint or one per side.

    sp = train_subword(lines, "unigram", 8000, "out/spm"); ids = Vocab.load("out/spm.model").encode(["Hi"])

Every model has the same special ids (pad 0, unk 1, bos 2, eos 3), so the seq2seq models
and the search can use them without looking them up.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import sentencepiece as spm

from speechlang.errors import ConfigError, DataError, FormatError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
MODEL_TYPES = ("unigram", "bpe")


class Vocab:
    """A sentencepiece model held as bytes (so checkpoints can carry it) with encode/decode."""

    def __init__(self, proto: bytes, name: str = "<vocab>"):
        self.proto, self.name = bytes(proto), name
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.LoadFromSerializedProto(self.proto)
        except Exception:
            raise FormatError(f"{name}: not a sentencepiece model") from None
        if (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()) != (PAD, UNK, BOS, EOS):
            raise FormatError(f"{name}: sentencepiece model without pad=0 unk=1 bos=2 eos=3; "
                              "make it with `speechlang nmt prepare`")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: no such sentencepiece model")
        return cls(p.read_bytes(), str(p))

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.proto).hexdigest()

    def encode(self, lines: list[str]) -> list[list[int]]:
        """Subword ids of each line (no bos/eos)."""
        return self.sp.encode(lines, out_type=int)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids; specials (pad, bos, eos) are dropped."""
        return self.sp.decode([int(i) for i in ids if i > BOS and i != EOS])


def train_subword(lines: Iterable[str], model_type: str, vocab_size: int, seed: int = 1) -> bytes:
    """Train a sentencepiece model on `lines`; returns its serialized proto.

    character_coverage is 1.0 (the alphabets here are small: keep every accented letter);
    the vocabulary may come out smaller than `vocab_size` on tiny corpora.
    """
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"--model-type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    if vocab_size < 8:
        raise ConfigError("--vocab-size must be >= 8")
    out = io.BytesIO()
    sentences = list(lines)
    if not sentences:
        raise DataError("no training text for the subword model")
    rng = np.random.default_rng(seed)  # sentencepiece's own sampling is off: this keeps it reproducible
    if len(sentences) > 2_000_000:
        sentences = [sentences[i] for i in np.sort(rng.choice(len(sentences), 2_000_000, replace=False))]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=out, model_type=model_type,
        vocab_size=vocab_size, character_coverage=1.0, hard_vocab_limit=False,
        pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, shuffle_input_sentence=False,
        num_threads=1, minloglevel=2, max_sentence_length=1 << 16)
    return out.getvalue()

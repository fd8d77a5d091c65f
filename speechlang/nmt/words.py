"""Word-level vocabularies: whitespace tokens, the most frequent types, everything else <unk>.

    v = WordVocab(train_words(lines, vocab_size=50000)); ids = v.encode(["In the beginning"])

The same interface as the sentencepiece `Vocab` (encode, decode, len, proto, sha256) and the
same special ids (pad 0, unk 1, bos 2, eos 3), so `train` and `translate` take either. The
serialized form (`proto`, also the vocab file of a prepared directory and what checkpoints
carry) is UTF-8 text: a header line, then one `token<TAB>count` line per id, specials first.
`load_vocab`/`vocab_from_bytes` tell the two kinds apart by that header.
"""

from __future__ import annotations

import collections
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.nmt.subword import BOS, EOS, PAD, UNK, Vocab

HEADER = "#speechlang-word-vocab 1"
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")  # ids PAD, UNK, BOS, EOS


def train_words(lines: Iterable[str], vocab_size: int = 0, min_count: int = 1) -> bytes:
    """Count whitespace tokens and keep the most frequent types (ties: the type first in byte
    order); returns the serialized vocabulary.

    vocab_size counts the 4 specials (as sentencepiece's does); 0 keeps every type with at least
    `min_count` occurrences.
    """
    if vocab_size and vocab_size <= len(SPECIALS):
        raise ConfigError(f"--vocab-size must be > {len(SPECIALS)} (the special tokens) or 0 (all types)")
    if min_count < 1:
        raise ConfigError("--min-count must be >= 1")
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        counts.update(line.split())
    for s in SPECIALS:  # a literal "<unk>" in the text is an ordinary word that must not take an id twice
        counts.pop(s, None)
    if not counts:
        raise DataError("no training text for the word vocabulary")
    ranked = sorted(((c, w) for w, c in counts.items() if c >= min_count), key=lambda cw: (-cw[0], cw[1]))
    if vocab_size:
        ranked = ranked[: vocab_size - len(SPECIALS)]
    kept = sum(c for c, _ in ranked)
    rows = [HEADER, *(f"{s}\t0" for s in SPECIALS), *(f"{w}\t{c}" for c, w in ranked)]
    rows[1 + UNK] = f"<unk>\t{sum(counts.values()) - kept}"
    return ("\n".join(rows) + "\n").encode("utf-8")


class WordVocab:
    """A word list held as bytes (so checkpoints can carry it) with encode/decode."""

    def __init__(self, proto: bytes, name: str = "<vocab>"):
        self.proto, self.name = bytes(proto), name
        try:
            lines = self.proto.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise FormatError(f"{name}: not a UTF-8 word vocabulary") from None
        if not lines or lines[0] != HEADER:
            raise FormatError(f"{name}: not a word vocabulary (no {HEADER!r} header)")
        self.words, self.counts = [], []
        for n, row in enumerate(lines[1:], 2):
            w, tab, c = row.partition("\t")
            if not tab or not w or not (c.isascii() and c.isdigit()):
                raise FormatError(f"{name}:{n}: expected 'token<TAB>count'")
            self.words.append(w)
            self.counts.append(int(c))
        if tuple(self.words[:len(SPECIALS)]) != SPECIALS:
            raise FormatError(f"{name}: the first entries must be {' '.join(SPECIALS)}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise FormatError(f"{name}: a token is listed twice")

    @classmethod
    def load(cls, path: str | os.PathLike) -> WordVocab:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: no such word vocabulary")
        return cls(p.read_bytes(), str(p))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.proto).hexdigest()

    def encode(self, lines: list[str]) -> list[list[int]]:
        """Word ids of each line's whitespace tokens (no bos/eos); unknown words are UNK."""
        get = self.index.get
        return [[get(w, UNK) for w in line.split()] for line in lines]

    def decode(self, ids: Iterable[int]) -> str:
        """Words of ids joined by spaces; pad, bos and eos are dropped, unk prints as <unk>."""
        return " ".join(self.words[i] for i in map(int, ids) if i not in (PAD, BOS, EOS))


def vocab_from_bytes(proto: bytes, name: str = "<vocab>") -> Vocab | WordVocab:
    """A word vocabulary when `proto` starts with the header, else a sentencepiece model."""
    return WordVocab(proto, name) if bytes(proto).startswith(HEADER.encode()) else Vocab(proto, name)


def load_vocab(path: str | os.PathLike) -> Vocab | WordVocab:
    """Either kind of vocabulary file, told apart by its content."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such vocabulary file")
    return vocab_from_bytes(p.read_bytes(), str(p))

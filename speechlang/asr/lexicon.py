"""Pronunciation lexicons (`lexicon.txt`: WORD PHONE PHONE ...): reader, writer, phone set.

    lex = read_lexicon("lexicon.txt"); lex.prons["zero"] -> [("Z","IH","R","OW"), ("Z","IY","R","OW")]

One pronunciation per line; a word may have several lines. The silence word `!SIL` (its
phone, usually `SIL`, is the silence phone) is required; it is optional between words in
training and decoding and never part of a transcript. Kaldi's other name for it, `<SIL>`
(egs/yesno), is read as `!SIL`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_output, iter_lines

SIL_WORD = "!SIL"
SIL_ALIASES = ("<SIL>",)  # read as SIL_WORD when the lexicon has no SIL_WORD


@dataclass
class Lexicon:
    prons: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    phones: list[str] = field(default_factory=list)  # sorted; index = phone id
    silence: str = "SIL"

    @property
    def phone_id(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.phones)}

    @property
    def words(self) -> list[str]:
        return [w for w in self.prons if w != SIL_WORD]


def read_lexicon(path: str | os.PathLike) -> Lexicon:
    lex = Lexicon()
    for lineno, line in enumerate(iter_lines(path), 1):
        f = line.split()
        if not f:
            continue
        if len(f) < 2:
            raise FormatError(f"{path}:{lineno}: expected 'WORD PHONE ...', found only {f[0]!r}")
        pron = tuple(f[1:])
        if pron not in lex.prons.setdefault(f[0], []):
            lex.prons[f[0]].append(pron)
    if not lex.prons:
        raise DataError(f"{path}: empty lexicon")
    alias = next((w for w in SIL_ALIASES if w in lex.prons), None)
    if SIL_WORD not in lex.prons and alias:
        lex.prons = {SIL_WORD if w == alias else w: p for w, p in lex.prons.items()}
    if SIL_WORD not in lex.prons or len(lex.prons[SIL_WORD][0]) != 1:
        raise DataError(f"{path}: no '{SIL_WORD} SIL' line (one phone: the silence phone); add one")
    lex.silence = lex.prons[SIL_WORD][0][0]
    lex.phones = sorted({p for prons in lex.prons.values() for pr in prons for p in pr})
    return lex


def write_lexicon(lex: Lexicon, path: str | os.PathLike) -> None:
    with atomic_output(path) as f:
        for w, prons in lex.prons.items():
            for p in prons:
                f.write(f"{w} {' '.join(p)}\n")


def map_transcripts(text: dict[str, list[str]], lex: Lexicon, oov_word: str | None = None,
                    where: str = "text") -> dict[str, list[str]]:
    """Check every word of every transcript against the lexicon.

    Words not in it are an error listing them (with a count and the first utterance), unless
    `oov_word` (a lexicon word, e.g. <unk> with a garbage pronunciation) is given to map them to.
    """
    if oov_word is not None and oov_word not in lex.prons:
        raise DataError(f"--oov-word {oov_word!r} is not in the lexicon; add it with a pronunciation")
    missing: dict[str, tuple[int, str]] = {}
    for u, words in text.items():
        for w in words:
            if w not in lex.prons or w == SIL_WORD:
                n, first = missing.get(w, (0, u))
                missing[w] = (n + 1, first)
    if missing and oov_word is None:
        shown = ", ".join(f"{w!r} ({n}x, e.g. in {u})" for w, (n, u) in
                          sorted(missing.items(), key=lambda kv: -kv[1][0])[:10])
        raise DataError(f"{where}: {len(missing)} word(s) not in the lexicon: {shown}"
                        f"{' ...' if len(missing) > 10 else ''}; add them to lexicon.txt or map "
                        "them with --oov-word")
    return {u: [w if w in lex.prons and w != SIL_WORD else oov_word for w in ws]
            for u, ws in text.items()}

"""Pieces shared by the corpus builders: the tokenizer, the 66-book canon and the chapter split,
and writers for line files and Kaldi tables.

    tokenize("God’s Spirit said, “Let there be light.”")  # -> "god's spirit said , “ let there be light . ”"
    split_of("Gen", 20)                                     # -> "test" (chapter id 20: id % 20 == 0)
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

# The 66 books of the Protestant canon in KJV order: OSIS name and KJV chapter count. A chapter's
# id is its 1-based position in this canon (Gen 1 = 1 ... Rev 22 = 1189).
CANON = [
    ("Gen", 50), ("Exod", 40), ("Lev", 27), ("Num", 36), ("Deut", 34), ("Josh", 24), ("Judg", 21),
    ("Ruth", 4), ("1Sam", 31), ("2Sam", 24), ("1Kgs", 22), ("2Kgs", 25), ("1Chr", 29), ("2Chr", 36),
    ("Ezra", 10), ("Neh", 13), ("Esth", 10), ("Job", 42), ("Ps", 150), ("Prov", 31), ("Eccl", 12),
    ("Song", 8), ("Isa", 66), ("Jer", 52), ("Lam", 5), ("Ezek", 48), ("Dan", 12), ("Hos", 14),
    ("Joel", 3), ("Amos", 9), ("Obad", 1), ("Jonah", 4), ("Mic", 7), ("Nah", 3), ("Hab", 3),
    ("Zeph", 3), ("Hag", 2), ("Zech", 14), ("Mal", 4),
    ("Matt", 28), ("Mark", 16), ("Luke", 24), ("John", 21), ("Acts", 28), ("Rom", 16), ("1Cor", 16),
    ("2Cor", 13), ("Gal", 6), ("Eph", 6), ("Phil", 4), ("Col", 4), ("1Thess", 5), ("2Thess", 3),
    ("1Tim", 6), ("2Tim", 4), ("Titus", 3), ("Phlm", 1), ("Heb", 13), ("Jas", 5), ("1Pet", 5),
    ("2Pet", 3), ("1John", 5), ("2John", 1), ("3John", 1), ("Jude", 1), ("Rev", 22),
]
BOOKS = [b for b, _ in CANON]
HELD_OUT_BOOKS = ("Ruth", "Jonah", "Phlm")   # whole books kept for a held-back evaluation set
_FIRST_ID = {}
_n = 0
for _book, _chapters in CANON:
    _FIRST_ID[_book] = _n + 1
    _n += _chapters


def chapter_id(book: str, chapter: int) -> int:
    """1-based position of `book` `chapter` in the 66-book KJV canon (Gen 1 = 1, Rev 22 = 1189)."""
    if book not in _FIRST_ID:
        raise KeyError(f"{book} is not one of the 66 canonical books (OSIS names)")
    if not 1 <= chapter <= dict(CANON)[book]:
        raise KeyError(f"{book} has no chapter {chapter} in the KJV canon")
    return _FIRST_ID[book] + chapter - 1


def split_of(book: str, chapter: int) -> str:
    """'heldout' for Ruth, Jonah and Philemon; else by chapter id: % 20 == 0 test, == 10 dev, else train."""
    if book in HELD_OUT_BOOKS:
        return "heldout"
    cid = chapter_id(book, chapter)
    return "test" if cid % 20 == 0 else "dev" if cid % 20 == 10 else "train"


# Tokens: a number with inner `,` or `.` (`3,000`, `2.5`; not `x3.2`, which is `x3 . 2`), a run of
# letters and digits with inner apostrophes (`don’t`, ``word`s``, `6th`), or any other non-space character on
# its own (punctuation, quotes, dashes).
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+(?![^\W_])|[^\W_]+(?:['’`][^\W_]+)*|\S", re.UNICODE)


def tokenize(line: str) -> str:
    """Lower-case and split off punctuation; apostrophes (’ `) inside words become ASCII `'`."""
    return " ".join(re.sub("[’`]", "'", t) if len(t) > 1 else t for t in _TOKEN.findall(line.lower()))


def normalize_space(text: str) -> str:
    """Unicode NFC and single spaces, no leading or trailing space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def write_lines(path: str | os.PathLike, lines) -> int:
    """Write one line per item (UTF-8, \\n); returns the number of lines."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
            n += 1
    return n


def c_sorted(lines) -> list[str]:
    """Sorted as `LC_ALL=C sort` does: by the UTF-8 bytes."""
    return sorted(lines, key=lambda s: s.encode("utf-8"))


def write_kaldi_dir(d: str | os.PathLike, utts: dict[str, dict]) -> None:
    """A Kaldi data dir from {utt: {"wav": path, "text": words, "spk": speaker, "dur": seconds}}:
    wav.scp, text, utt2spk, spk2utt, utt2dur, every file sorted in C order."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    keys = c_sorted(utts)
    write_lines(d / "wav.scp", (f"{u} {utts[u]['wav']}" for u in keys))
    write_lines(d / "text", (f"{u} {utts[u]['text']}" for u in keys))
    write_lines(d / "utt2spk", (f"{u} {utts[u]['spk']}" for u in keys))
    write_lines(d / "utt2dur", (f"{u} {utts[u]['dur']:.3f}" for u in keys))
    spk2utt: dict[str, list[str]] = {}
    for u in keys:
        spk2utt.setdefault(utts[u]["spk"], []).append(u)
    write_lines(d / "spk2utt", (f"{s} {' '.join(spk2utt[s])}" for s in c_sorted(spk2utt)))


def log(msg: str) -> None:
    print(f"make_data: {msg}", flush=True)

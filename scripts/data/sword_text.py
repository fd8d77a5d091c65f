"""Verse text from SWORD Bible modules (read with pysword) with the OSIS markup turned into plain text.

    for book, chapter, verse, osis in read_module("/usr/share/sword", "engKJV2006eb"): ...
    clean_osis('<w lemma="strong:H07225">In the beginning</w> God<note>...</note>')  # -> "In the beginning God"

Clean-up (as shared/data/text/README.md describes it): `<note>`, `<title>` (with the Psalm
superscriptions) and `<speaker>` are dropped with their content, every other tag is removed
(keeping its text), pilcrows (¶) are removed, entities unescaped, Unicode NFC, whitespace collapsed.
"""

from __future__ import annotations

import argparse
import functools
import html
import re
from pathlib import Path

from common import BOOKS, normalize_space

_DROP = re.compile(r"<(note|title|speaker)\b[^>]*?(?<!/)>.*?</\1\s*>", re.S)
_CANON_TITLE = re.compile(r"<title\b[^>]*\bcanonical=\"true\"[^>]*?(?<!/)>(.*?)</title\s*>", re.S)
_TAG = re.compile(r"<[^>]*>")
# the KJV module holds a Pauline letter's colophon as a <title> after the end of its last chapter
_COLOPHON_TITLE = re.compile(r"(<chapter\b[^>]*\beID=[^>]*/>.*?)<title\b[^>]*(?<!/)>(.*?)</title\s*>", re.S)
# WEB's glossary follows Rev 22:21 in the same module entry, from its <div type="glossary"> on
_GLOSSARY = re.compile(r"<div\b[^>]*\btype=\"glossary\".*$", re.S)


def clean_osis(osis: str, keep_printed_titles: bool = False) -> str:
    """OSIS verse markup -> plain text. With `keep_printed_titles`, a canonical title (a Psalm
    superscription) and a colophon (a title after the end of a book's last chapter) keep their
    text, as the Spanish module prints them inside its verses."""
    if keep_printed_titles:
        osis = _CANON_TITLE.sub(lambda m: m.group(1) + " ", osis)
        osis = _COLOPHON_TITLE.sub(lambda m: m.group(1) + " " + m.group(2) + " ", osis)
    # a dropped note separates two words, but not a word from the punctuation after it
    text = _TAG.sub("", _DROP.sub("\x00", osis))
    text = re.sub(r"\x00+(?=[\w“‘(\[])", " ", text).replace("\x00", "").replace("¶", "")
    return normalize_space(html.unescape(text))


def cut_glossary(osis: str) -> str:
    return _GLOSSARY.sub("", osis)


def open_module(sword_dir: str, name: str):
    """A pysword Bible for module `name` under `sword_dir` (holding mods.d/ and modules/)."""
    from pysword.modules import SwordModules

    modules = SwordModules(sword_dir)
    found = modules.parse_modules()
    if name not in found:
        raise SystemExit(f"make_data: SWORD module {name} not found under {sword_dir} "
                         f"(found: {', '.join(sorted(found)) or 'none'}); install its Debian package")
    return modules.get_bible_from_module(name)


def read_module(sword_dir: str, name: str):
    """Yield (book, chapter, verse, raw OSIS text) for every verse slot of the 66 canonical books,
    in the module's own versification (empty slots included, as '')."""
    bible = open_module(sword_dir, name)
    if hasattr(bible, "_decompressed_text"):   # pysword inflates a whole block per verse: keep the last few
        bible._decompressed_text = functools.lru_cache(maxsize=8)(bible._decompressed_text)
    structure = bible.get_structure()
    books = {b.osis_name: b for testament in structure.get_books().values() for b in testament}
    for osis_name in BOOKS:
        book = books.get(osis_name)
        if book is None:
            raise SystemExit(f"make_data: {name} has no book {osis_name}")
        for c, n_verses in enumerate(book.chapter_lengths, 1):
            for v in range(1, n_verses + 1):
                text = bible.get(books=[osis_name], chapters=[c], verses=[v], clean=False)
                yield osis_name, c, v, text or ""


def sword_main(build, doc: str) -> None:
    """The command line of a builder that reads SWORD modules: OUT [--sword-dir DIR] -> build(OUT, DIR)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--sword-dir", default="/usr/share/sword")
    a = ap.parse_args()
    build(a.out, a.sword_dir)

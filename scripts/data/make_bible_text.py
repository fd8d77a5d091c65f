"""English Bible text (WEB + KJV) for n-gram LMs and word2vec: OUT/text/bible-en.{train,dev,test}.{raw,tok,ids}.

    python scripts/data/make_bible_text.py OUT [--sword-dir /usr/share/sword]

Sources: Debian `sword-text-web` (module engWEB2015eb, NRSVA versification) and `sword-text-kjv`
(engKJV2006eb, KJV versification), read with PyPI `pysword`. For each verse of the 66 books the
OSIS markup becomes plain text (sword_text.clean_osis); the KJV colophons after the last verse of
the Pauline letters and the WEB glossary after Rev 22:21 are cut off; WEB's doxology of Rom
16:25-27, stored after Rom 14:23, is moved back to Rom 16:25; empty verse slots are skipped.
Split by chapter id (common.split_of); Ruth, Jonah and Philemon are held out (not written here).
Each file holds all WEB lines, then all KJV lines, in canonical order.

The README leaves the markup details open; these choices reproduce the shared copy exactly (every
line of the .raw, .tok and .ids files, checked with sword-text-web 426.0-1, sword-text-kjv 14.3-1
and pysword 0.2.8): a dropped <note> becomes a space unless punctuation follows it; the doxology
is taken from the text of WEB Rom 14:23 (or from slots Rom 14:24-26, where a module has them); the
glossary starts at the <div type="glossary"> in Rev 22:21; the KJV colophons are <title>s.
"""

from __future__ import annotations

from pathlib import Path

from common import BOOKS, chapter_id, log, split_of, tokenize, write_lines
from sword_text import clean_osis, cut_glossary, read_module, sword_main

MODULES = {"WEB": "engWEB2015eb", "KJV": "engKJV2006eb"}
DOXOLOGY_START = "Now to him who is able to establish you"
EXPECTED = {"train": 55803, "dev": 2933, "test": 3146}   # lines, from the corpus README


def web_verses(slots: list[tuple[str, int, int, str]]) -> list[tuple[str, int, int, str]]:
    """WEB (book, chapter, verse, osis) slots -> (book, chapter, verse, text), doxology moved to Rom 16:25."""
    verses = []
    for b, c, v, osis in slots:
        if (b, c, v) == ("Rev", 22, 21):
            osis = cut_glossary(osis)
        verses.append((b, c, v, clean_osis(osis)))
    rom14 = [i for i, (b, c, v, _) in enumerate(verses) if (b, c) == ("Rom", 14)]
    extra = [i for i in rom14 if verses[i][2] > 23 and verses[i][3]]
    doxology = ""
    if extra:                                    # slots Rom 14:24-26
        doxology = " ".join(verses[i][3] for i in extra)
        for i in extra:
            verses[i] = verses[i][:3] + ("",)
    else:                                        # or inside the text of Rom 14:23
        for i in rom14:
            b, c, v, text = verses[i]
            if v == 23 and DOXOLOGY_START in text:
                k = text.index(DOXOLOGY_START)
                doxology, verses[i] = text[k:], (b, c, v, text[:k].strip())
    if doxology:
        at = [i for i, (b, c, v, _) in enumerate(verses) if (b, c, v) == ("Rom", 16, 25)]
        if at:
            if verses[at[0]][3]:
                raise SystemExit("make_data: WEB Rom 16:25 is not empty; where is the doxology?")
            verses[at[0]] = ("Rom", 16, 25, doxology)
        else:
            last = max(i for i, (b, c, _, _) in enumerate(verses) if (b, c) == ("Rom", 16))
            verses.insert(last + 1, ("Rom", 16, 25, doxology))
    else:
        log("warning: the WEB doxology (Rom 16:25-27) was not found after Rom 14:23")
    return verses


def kjv_verses(slots: list[tuple[str, int, int, str]]) -> list[tuple[str, int, int, str]]:
    """KJV slots -> (book, chapter, verse, text); the colophons are <title>s, dropped with the others."""
    return [(b, c, v, clean_osis(osis)) for b, c, v, osis in slots]


def build(out: Path, sword_dir: str) -> None:
    files = {s: {"raw": [], "tok": [], "ids": []} for s in EXPECTED}
    for name, module in MODULES.items():
        slots = list(read_module(sword_dir, module))
        verses = web_verses(slots) if name == "WEB" else kjv_verses(slots)
        empty = 0
        for b, c, v, text in verses:
            assert b in BOOKS
            if not text:
                empty += 1
                continue
            split = split_of(b, c)
            if split == "heldout":
                continue
            f = files[split]
            f["raw"].append(text)
            f["tok"].append(tokenize(text))
            f["ids"].append(f"{name}\t{b}.{c}.{v}\t{chapter_id(b, c)}")
        log(f"{name}: {empty} empty verse slots skipped")
    for split, f in files.items():
        for ext, lines in f.items():
            write_lines(out / "text" / f"bible-en.{split}.{ext}", lines)
        n = len(f["raw"])
        log(f"bible-en.{split}: {n} lines" + ("" if n == EXPECTED[split] else
                                             f" (the shared copy has {EXPECTED[split]})"))


if __name__ == "__main__":
    sword_main(build, __doc__)

"""KJV English <-> Reina-Valera 1909 Spanish verse pairs for NMT: OUT/parallel/bible.{train,dev,test}.{en,es,ids}.

    python scripts/data/make_parallel.py OUT [--sword-dir /usr/share/sword]

Sources: Debian `sword-text-kjv` (engKJV2006eb) and `sword-text-sparv` (spaRV1909eb), both in KJV
versification, read with pysword; pairs are aligned by verse slot. The OSIS clean-up is that of
the monolingual text (sword_text.clean_osis), except that the English side keeps the canonical
Psalm superscriptions and the colophons (the Spanish module has both inside its verse text), and
that words the Spanish module marks as added (`transChange`) are set off by spaces, except object
pronouns glued to a verb (`preguntándo`+`le` -> `preguntándole`). Dropped: slots where either side
is empty; the 10 chapters in DROPPED_CHAPTERS, where the Spanish module follows another verse
numbering; single slots whose Strong's numbers match a neighbouring verse much better than their
own; pairs with a Spanish/English word ratio outside 0.4-2.5 (the longer side at least 10 words).
Split by chapter as the monolingual text (common.split_of); Ruth, Jonah and Philemon held out.

Checked against the shared copy (sword-text-kjv 14.3-1, sword-text-sparv 2.60-1, pysword 0.2.8):
the same pairs in every split, every English line identical, 1 of 30,678 Spanish lines different
(John 17:26, where an added `lo aún` follows a verb). Not settled by the corpus README, so chosen
here: the overlap measure (Jaccard of the Strong's
number sets: a slot is dropped when its own overlap is < 0.2 and the best overlap of either side
with the other side's neighbouring verse is at least 0.2 higher), when a pronoun counts as glued
(an ENCLITICS word after a word that is not in NOT_VERBS, not a name (capitalized inside a
sentence) and, unless it has an accent, does not end in s), and "at least 10
words" read as the longer side.
"""

from __future__ import annotations

import re
from pathlib import Path

from common import chapter_id, log, split_of, write_lines
from sword_text import clean_osis, read_module, sword_main

MODULES = {"en": "engKJV2006eb", "es": "spaRV1909eb"}
DROPPED_CHAPTERS = {("Num", 13), ("Num", 30), ("1Sam", 24), ("1Kgs", 22), ("1Chr", 21), ("2Chr", 33), ("Job", 39),
                    ("Job", 40), ("Hos", 12), ("Jonah", 2)}
ENCLITICS = {"me", "te", "se", "le", "les", "lo", "los", "la", "las", "nos", "os", "selo", "sela", "selos", "selas",
             "melo", "mela", "telo", "tela", "noslo", "nosla"}
# words after which a pronoun stays a word of its own (not a verb it could be glued to)
NOT_VERBS = {"no", "como", "cuánto", "éste", "ésta", "esto", "y", "que", "él", "ella", "yo", "tú"}
MIN_OVERLAP, MIN_GAIN = 0.2, 0.2
RATIO, RATIO_MIN_WORDS = (0.4, 2.5), 10
EXPECTED = {"train": 27719, "dev": 1434, "test": 1525}   # pairs, from the corpus README
_TRANS = re.compile(r"<transChange\b[^>]*>(.*?)</transChange\s*>", re.S)
_TAGS = re.compile(r"<[^>]*>")
_STRONG = re.compile(r"strong:([HG])0*(\d+)")


def mark_added_words(osis: str) -> str:
    """Set the words of each <transChange> off by a space from the words next to it (not from
    punctuation), but glue an object pronoun to the verb it follows (`preguntándo`+`le`)."""
    def repl(m: re.Match) -> str:
        words = _TAGS.sub("", m.string[m.start(1):m.end(1)]).strip()
        before, after = _TAGS.sub("", m.string[:m.start()]), _TAGS.sub("", m.string[m.end():])
        space_after = " " if after[:1].isalnum() else ""
        prev = before.split()[-1] if before[-1:].isalpha() else ""
        name = prev[:1].isupper() and before[:-len(prev)].rstrip()[-1:] not in ("", ".", ":", ";", "!", "?", "¿", "¡")
        verb_like = not prev.endswith("s") or any(c in "áéíóú" for c in prev.lower())
        if prev and words.lower() in ENCLITICS and verb_like and prev.lower() not in NOT_VERBS and not name:
            return words + space_after
        return (" " if before[-1:].isalnum() else "") + words + space_after
    return _TRANS.sub(repl, osis)


def strongs(osis: str) -> set[str]:
    return {h + n for h, n in _STRONG.findall(osis)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def misaligned(key, en_s: dict, es_s: dict) -> bool:
    """True when the slot's own Strong's overlap is low and a neighbouring verse matches much better."""
    b, c, v = key
    a, s = en_s.get(key, set()), es_s.get(key, set())
    if not a or not s:
        return False
    own = jaccard(a, s)
    if own >= MIN_OVERLAP:
        return False
    best = max([jaccard(a, es_s.get((b, c, v + d), set())) for d in (-1, 1)]
               + [jaccard(en_s.get((b, c, v + d), set()), s) for d in (-1, 1)])
    return best >= own + MIN_GAIN


def build(out: Path, sword_dir: str) -> None:
    text, strong = {}, {}
    for lang, module in MODULES.items():
        text[lang], strong[lang] = {}, {}
        for b, c, v, osis in read_module(sword_dir, module):
            key = (b, c, v)
            strong[lang][key] = strongs(osis)
            if lang == "es":
                osis = mark_added_words(osis)
            text[lang][key] = clean_osis(osis, keep_printed_titles=True)
    dropped = {"empty": 0, "chapters": 0, "strongs": 0, "ratio": 0}
    files = {s: {"en": [], "es": [], "ids": []} for s in EXPECTED}
    for key, en in text["en"].items():
        b, c, v = key
        es = text["es"].get(key, "")
        if not en or not es:
            dropped["empty"] += 1
            continue
        if (b, c) in DROPPED_CHAPTERS:
            dropped["chapters"] += 1
            continue
        if misaligned(key, strong["en"], strong["es"]):
            dropped["strongs"] += 1
            continue
        ne, ns = len(en.split()), len(es.split())
        if max(ne, ns) >= RATIO_MIN_WORDS and not RATIO[0] <= ns / ne <= RATIO[1]:
            dropped["ratio"] += 1
            continue
        split = split_of(b, c)
        if split == "heldout":
            continue
        f = files[split]
        f["en"].append(en)
        f["es"].append(es)
        f["ids"].append(f"{b}.{c}.{v}\t{chapter_id(b, c)}")
    log(f"parallel: dropped {dropped} (the shared copy: 18 empty, 251 in the 10 chapters, 3 by Strong's, 5 by ratio)")
    for split, f in files.items():
        for ext, lines in f.items():
            write_lines(out / "parallel" / f"bible.{split}.{ext}", lines)
        n = len(f["en"])
        log(f"bible.{split}: {n} pairs" + ("" if n == EXPECTED[split] else f" (the shared copy has {EXPECTED[split]})"))


if __name__ == "__main__":
    sword_main(build, __doc__)

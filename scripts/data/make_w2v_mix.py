"""The word2vec corpus and evaluation sets: OUT/text/w2v-mix.{tok,sources}, OUT/text/LICENSE.wordnet, OUT/eval/.

    python scripts/data/make_w2v_mix.py OUT   # needs OUT/text/bible-en.train.tok (make_bible_text.py)

Lines from four sources, one after the other: the Bible training text (bible-en.train.tok as it is),
the articles of gensim's shortened Wikipedia test dump (wikitext.py: one paragraph per line),
the WordNet 3.0 glosses of Debian `wordnet-base` (the text after `|` in data.{noun,verb,adj,adv},
one synset per line) and the fortunes of Debian `fortunes-min` + `fortunes` (every file in
/usr/share/games/fortunes except ascii-art, one fortune per line, overstrike removed, entries
with under 60% letters dropped); every line tokenized as the Bible text (common.tokenize).
The evaluation sets are copied unchanged from gensim's test data.

The README leaves details open; these choices reproduce the Bible, WordNet and fortune lines of
the shared copy exactly (checked with wordnet-base 1:3.0-37, fortunes 1:1.99.1-7.3): fortune files
by name; a backspace deletes the character before it, repeatedly; the letter share is letters /
non-space characters, control characters included, which are then removed; `` ` `` inside a word is
an apostrophe. The wiki markup clean-up is an approximation: on the gensim 4.4.0 dump it gives
4,789 lines, 4,760 of them equal to lines of the shared copy, which has 4,832.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from common import log, tokenize, write_lines
from wikitext import read_dump

WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
EVAL_FILES = ("questions-words.txt", "wordsim353.tsv", "simlex999.txt")
WORDNET = Path("/usr/share/wordnet")
FORTUNES = Path("/usr/share/games/fortunes")
MIN_LETTERS = 0.6
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # bells and the like, not whitespace


def gensim_test_data() -> Path:
    import gensim

    d = Path(gensim.__file__).parent / "test" / "test_data"
    if not (d / WIKI_DUMP).is_file():
        raise SystemExit(f"make_data: {d / WIKI_DUMP} not found; install PyPI gensim 4.4.0 (it ships its test data)")
    if gensim.__version__ != "4.4.0":
        log(f"warning: gensim {gensim.__version__}, the corpus was made with 4.4.0")
    return d


def wordnet_glosses(wordnet: Path = WORDNET):
    for pos in ("noun", "verb", "adj", "adv"):
        for line in open(wordnet / f"data.{pos}", encoding="utf-8", errors="replace"):
            if line.startswith("  "):   # the license header
                continue
            yield line.split(" | ", 1)[1].strip() if " | " in line else ""


def wordnet_license(copyright_text: str) -> str:
    """The text of the first `License:` paragraph of a Debian copyright file, unindented."""
    lines, inside = [], False
    for line in copyright_text.splitlines():
        if line.startswith("License:"):
            if inside:
                break
            inside = True
        elif inside and line.startswith(" "):
            lines.append("" if line.strip() == "." else line[1:])
        elif inside:
            break
    return "\n".join(lines) + "\n"


def fortune_entries(text: str):
    """Fortunes of one file (entries between `%` lines), one line each, overstrike removed."""
    for entry in re.split(r"^%\s*$", text, flags=re.M):
        while True:   # a backspace deletes the character before it, again and again (`____^H^H^H^HBODY`)
            entry, n = re.subn(r".\x08", "", entry)
            if not n:
                break
        chars = "".join(entry.split())   # the letter share counts control characters too
        if chars and sum(c.isalpha() for c in chars) / len(chars) >= MIN_LETTERS:
            yield " ".join(_CONTROL.sub("", entry).split())


def fortune_files(d: Path = FORTUNES) -> list[Path]:
    return [p for p in sorted(d.iterdir()) if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8")
            and p.name != "ascii-art"]


def build(out: Path) -> None:
    bible = out / "text" / "bible-en.train.tok"
    if not bible.is_file():
        raise SystemExit(f"make_data: {bible} missing; build the Bible text first (make_bible_text.py)")
    data = gensim_test_data()
    parts = [("bible-en.train.tok (WEB+KJV train split)", bible.read_text(encoding="utf-8").splitlines())]
    wiki = [tokenize(p) for _, paragraphs in read_dump(str(data / WIKI_DUMP)) for p in paragraphs]
    parts.append((f"gensim 4.4.0 test_data/{WIKI_DUMP}", wiki))
    parts.append(("wordnet-base 1:3.0-37 glosses", [tokenize(g) for g in wordnet_glosses()]))
    files = fortune_files()
    fortunes = [tokenize(e) for p in files for e in fortune_entries(p.read_text(encoding="utf-8", errors="replace"))]
    parts.append((f"fortunes-min/fortunes 1:1.99.1-7.3 ({len(files)} files)", fortunes))
    lines, sources, first = [], [], 1
    for name, part in parts:
        lines += part
        sources.append(f"{first}\t{first + len(part) - 1}\t{name}")
        log(f"w2v-mix: {len(part)} lines from {name}")
        first += len(part)
    write_lines(out / "text" / "w2v-mix.tok", lines)
    write_lines(out / "text" / "w2v-mix.sources", sources)
    log(f"w2v-mix.tok: {len(lines)} lines, {sum(len(s.split()) for s in lines)} tokens "
        "(the shared copy: 193,472 lines, 4,344,346 tokens)")
    copyright_ = Path("/usr/share/doc/wordnet-base/copyright")
    if copyright_.is_file():
        (out / "text" / "LICENSE.wordnet").write_text(
            "WordNet 3.0 license (from /usr/share/doc/wordnet-base/copyright; applies to the WordNet\n"
            "glosses inside w2v-mix.tok)\n\n" + wordnet_license(copyright_.read_text(encoding="utf-8")),
            encoding="utf-8")
    (out / "eval").mkdir(parents=True, exist_ok=True)
    for name in EVAL_FILES:
        shutil.copyfile(data / name, out / "eval" / name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    build(ap.parse_args().out)


if __name__ == "__main__":
    main()

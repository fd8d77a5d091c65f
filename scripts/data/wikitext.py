"""Prose paragraphs from a MediaWiki XML dump (gensim's shortened test dump): markup stripped.

    for title, paragraphs in read_dump("enwiki-...-shortened.bz2"): ...

Dropped: comments, <ref>s and other non-prose tags (math, gallery, tables, code), templates
`{{...}}` (a few inline ones keep their visible text: convert, as of, lang, transl, sc), tables `{|...|}`,
file/image/category/interlanguage links (also `[[:fr:...]]`), headings, list lines, and the "See also", "References",
"External links" (and similar back-matter) sections. `[[a|b]]` becomes `b`, `[[a]]` `a`,
`[http://x label]` `label`. One paragraph per item; paragraphs under 5 words are dropped.
"""

from __future__ import annotations

import bz2
import html
import re
import xml.etree.ElementTree as ET

BACK_MATTER = {"see also", "references", "external links", "further reading", "notes", "bibliography",
               "sources", "footnotes", "citations", "notes and references"}
NON_PROSE = ("ref", "math", "gallery", "timeline", "table", "code", "source", "syntaxhighlight", "pre", "score",
             "imagemap", "hiero", "chem", "nowiki")
MIN_WORDS = 5


def _strip_nested(text: str, open_: str, close: str, keep=None) -> str:
    """Remove every (nested) open_...close span; `keep(inner)` may return text to put instead."""
    out, depth, start, i, last = [], 0, 0, 0, 0
    while i < len(text):
        if text.startswith(open_, i):
            if depth == 0:
                out.append(text[last:i])
                start = i
            depth += 1
            i += len(open_)
        elif text.startswith(close, i) and depth:
            depth -= 1
            i += len(close)
            if depth == 0:
                if keep:
                    out.append(keep(text[start + len(open_):i - len(close)]))
                last = i
        else:
            i += 1
    out.append(text[last:] if depth == 0 else text[last:start])
    return "".join(out)


def _template(inner: str) -> str:
    """Visible text of the inline templates that have some, else nothing."""
    parts = [p.strip() for p in inner.split("|")]
    name = parts[0].lower()
    args = [p for p in parts[1:] if "=" not in p]
    if name in ("convert", "cvt") and len(args) >= 2:
        return f" {args[0]} {args[1]} "
    if name == "as of" and args:
        return f" as of {args[0]} "
    if (name.startswith("lang") or name in ("transl", "sc", "smallcaps")) and args:
        return f" {args[-1]} "
    return " "


def _link(inner: str) -> str:
    target, _, label = inner.partition("|")
    if target.startswith(":"):   # links to other wikis and category pages
        return " "
    head = target.split(":", 1)[0].strip().lower()
    if ":" in target and (head in ("file", "image", "category", "media") or re.fullmatch(r"[a-z]{2,3}(-[a-z]+)?",
                                                                                          head)):
        return " "
    return label.split("|")[-1] if label else target


def clean(wikitext: str) -> list[str]:
    """Wiki markup of one article -> its prose paragraphs (plain text, at least MIN_WORDS words)."""
    t = html.unescape(wikitext)
    t = re.sub(r"<!--.*?-->", " ", t, flags=re.S)
    for tag in NON_PROSE:
        t = re.sub(rf"<{tag}\b[^>]*/>", " ", t, flags=re.I)
        t = re.sub(rf"<{tag}\b[^>]*>.*?</{tag}\s*>", " ", t, flags=re.I | re.S)
    t = _strip_nested(t, "{|", "|}")
    while True:   # templates, innermost first (an inline template may hold another)
        t, n = re.subn(r"\{\{([^{}]*)\}\}", lambda m: _template(m.group(1)), t)
        if not n:
            break
    t = _strip_nested(t, "[[", "]]", _link)
    t = re.sub(r"\[(?:https?:|ftp:)?//\S+\s+([^\]]*)\]", r"\1", t)
    t = re.sub(r"\[(?:https?:|ftp:)?//\S+\]", " ", t)
    t = re.sub(r"<[^>]+>", " ", t)
    t = re.sub(r"'{2,}", "", t)
    t = re.sub(r"\(\s*\)", " ", t)   # parentheses left empty by removed templates
    paragraphs, current, skipping = [], [], None
    for line in t.split("\n"):
        s = line.strip()
        heading = re.fullmatch(r"(=+)\s*(.*?)\s*\1", s)
        if heading:
            level = len(heading.group(1))
            if skipping is not None and level > skipping:
                continue
            skipping = level if heading.group(2).lower() in BACK_MATTER else None
            paragraphs.append(current)
            current = []
            continue
        if skipping is not None:
            continue
        if not s or s[0] in "*#:;|!" or s.startswith("----"):
            paragraphs.append(current)
            current = []
            continue
        current.append(s)
    paragraphs.append(current)
    out = []
    for p in paragraphs:
        text = " ".join(" ".join(p).split())
        if len(text.split()) >= MIN_WORDS:
            out.append(text)
    return out


def read_dump(path: str):
    """Yield (title, paragraphs) for every article (namespace 0, not a redirect) of a .xml.bz2 dump."""
    with bz2.open(path, "rb") as f:
        for _, elem in ET.iterparse(f):
            if elem.tag.endswith("}page"):
                ns = elem.find("{*}ns")
                title = elem.find("{*}title")
                text = elem.find("{*}revision/{*}text")
                if ns is not None and ns.text == "0" and elem.find("{*}redirect") is None and text is not None:
                    yield title.text, clean(text.text or "")
                elem.clear()

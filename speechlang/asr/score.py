"""Word error rate: Levenshtein alignment of reference and hypothesis transcripts (Kaldi's
compute-wer, NIST sclite's summary and per-speaker table).

    r = score_texts(read_transcripts("ref"), read_transcripts("hyp")); r.wer

Transcript files are Kaldi `text` files (UTT WORD ...). Each utterance of the reference is
scored; one missing from the hypothesis counts as all deletions (and is reported).
Substitutions, deletions and insertions come from a minimum edit-distance alignment with
equal costs; among equal-cost alignments the one found first by the backtrace (prefer
substitution/match, then deletion, then insertion) is counted, as in sclite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from speechlang import log
from speechlang.errors import DataError, FormatError
from speechlang.io import display_name, iter_lines


@dataclass
class Counts:
    ref_words: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    sents: int = 0
    sent_err: int = 0

    def add(self, other: Counts) -> None:
        for k in ("ref_words", "sub", "dele", "ins", "sents", "sent_err"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def wer(self) -> float:
        """Percent; 0 for an empty reference with no insertions, else errors / max(1, words)."""
        return 100.0 * self.errors / max(self.ref_words, 1)

    def as_dict(self) -> dict:
        return {"wer": round(self.wer, 2), "n_words": self.ref_words, "sub": self.sub,
                "del": self.dele, "ins": self.ins, "errors": self.errors, "n_sents": self.sents,
                "ser": round(100.0 * self.sent_err / max(self.sents, 1), 2)}


@dataclass
class ScoreResult:
    total: Counts
    per_speaker: dict[str, Counts] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def edit_ops(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of a minimum edit-distance alignment."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]), d[i - 1][j] + 1,
                          d[i][j - 1] + 1)
    s = dl = ins = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            s += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and d[i][j] == d[i - 1][j] + 1:
            dl += 1
            i -= 1
        else:
            ins += 1
            j -= 1
    return s, dl, ins


def read_transcripts(path: str | os.PathLike | None) -> dict[str, list[str]]:
    """A Kaldi text file: UTT WORD ... (an utterance with no words is an empty transcript)."""
    out: dict[str, list[str]] = {}
    name = display_name(path)
    for lineno, line in enumerate(iter_lines(path), 1):
        f = line.split()
        if not f:
            continue
        if f[0] in out:
            raise FormatError(f"{name}:{lineno}: utterance {f[0]!r} appears twice")
        out[f[0]] = f[1:]
    if not out:
        raise DataError(f"{name}: no transcripts (empty file)")
    return out


def score_texts(ref: dict[str, list[str]], hyp: dict[str, list[str]],
                utt2spk: dict[str, str] | None = None, ref_name: str = "REF",
                hyp_name: str = "HYP") -> ScoreResult:
    extra = [u for u in hyp if u not in ref]
    if extra and len(extra) == len(hyp):
        raise DataError(f"{hyp_name}: none of its utterance ids are in {ref_name} (e.g. "
                        f"{extra[0]!r}); are these the right files?")
    if extra:
        raise DataError(f"{hyp_name}: {len(extra)} utterance(s) not in {ref_name}, e.g. {extra[0]!r}")
    res = ScoreResult(Counts())
    for u, r in ref.items():
        if u not in hyp:
            res.missing.append(u)
        h = hyp.get(u, [])
        s, dl, ins = edit_ops(r, h)
        c = Counts(len(r), s, dl, ins, 1, int(s + dl + ins > 0))
        res.total.add(c)
        if utt2spk:
            res.per_speaker.setdefault(utt2spk.get(u, "(unknown)"), Counts()).add(c)
    if res.missing:
        log.warn(f"{len(res.missing)} reference utterance(s) have no hypothesis (counted as "
                 f"deletions), e.g. {res.missing[0]}")
    return res


def format_report(res: ScoreResult, per_speaker: bool = True) -> str:
    """Kaldi's %WER line, then an sclite-style table per speaker."""
    t = res.total
    lines = [f"%WER {t.wer:.2f} [ {t.errors} / {t.ref_words}, {t.ins} ins, {t.dele} del, {t.sub} sub ]",
             f"%SER {100.0 * t.sent_err / max(t.sents, 1):.2f} [ {t.sent_err} / {t.sents} ]"]
    if per_speaker and res.per_speaker:
        w = max([len("Sum/Avg")] + [len(s) for s in res.per_speaker])
        lines.append(f"{'SPKR':<{w}} | {'#Snt':>5} {'#Wrd':>6} | {'Corr':>6} {'Sub':>6} {'Del':>6} "
                     f"{'Ins':>6} {'Err':>6} {'S.Err':>6}")
        rows = list(res.per_speaker.items()) + [("Sum/Avg", t)]
        for spk, c in rows:
            n = max(c.ref_words, 1)
            corr = c.ref_words - c.sub - c.dele
            lines.append(f"{spk:<{w}} | {c.sents:>5} {c.ref_words:>6} | {100 * corr / n:6.1f} "
                         f"{100 * c.sub / n:6.1f} {100 * c.dele / n:6.1f} {100 * c.ins / n:6.1f} "
                         f"{c.wer:6.1f} {100 * c.sent_err / max(c.sents, 1):6.1f}")
    return "\n".join(lines)

"""Alignment dirs (reader, writer) and CTM files.

    ali = read_alignments("exp/mono_ali"); ali["spk1-001"].pdf   # (frames,) int32

An alignment dir holds:

    ali.npz     utts (U,) str; offsets (U+1,) int64 (utterance u owns frames offsets[u]..
                offsets[u+1]-1 of the arrays below, in the order of its feature dir);
                pdf (N,) int32 tied-state id; phone (N,) int16 phone id (phones.txt of the model);
                state (N,) int8 HMM state 0..2; ctx_left, ctx_right (N,) int16 contexts
                of the model's tree (speechlang.asr.tree): phone ids within the word, -1 =
                word boundary; cross-word trees: num_phones + phone id across a word
                boundary, -1 only at the utterance ends
    ali.json    {"format": "speechlang-ali", "version": 1, "num_pdfs": P, "model": dir,
                 "frame_shift_s": 0.01, "phones": [...]}
    words.ctm   UTT 1 START DUR WORD        (seconds, NIST CTM; silence left out)
    phones.ctm  UTT 1 START DUR PHONE
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_output, iter_lines, load_npz

FORMAT, VERSION = "speechlang-ali", 1
FIELDS = ("pdf", "phone", "state", "ctx_left", "ctx_right")
DTYPES = {"pdf": np.int32, "phone": np.int16, "state": np.int8, "ctx_left": np.int16,
          "ctx_right": np.int16}


@dataclass
class UttAlignment:
    pdf: np.ndarray
    phone: np.ndarray
    state: np.ndarray
    ctx_left: np.ndarray
    ctx_right: np.ndarray


def cross_word_contexts(a: UttAlignment, num_phones: int) -> UttAlignment:
    """The alignment with each phone's neighbours in the utterance (silence included) as its
    contexts: phone p within the same word, num_phones + p across a word boundary, BOUNDARY
    (-1) at the two ends (speechlang.asr.tree). A phone instance starts where the phone
    changes or the HMM state goes back; it ends a word where its own right context is
    BOUNDARY or lies across a boundary (word-internal or cross-word alignments)."""
    n = len(a.phone)
    if n == 0:
        return a
    start = np.ones(n, bool)
    start[1:] = (a.phone[1:] != a.phone[:-1]) | (a.state[1:] < a.state[:-1])
    inst = np.cumsum(start) - 1  # (N,) instance index of each frame
    seq = a.phone[start].astype(np.int32)  # (I,) the instances' phones
    first = np.nonzero(start)[0]
    word_end = (a.ctx_right[first] < 0) | (a.ctx_right[first] >= num_phones)  # (I,)
    crossing = np.where(word_end[:-1], num_phones, 0)  # (I-1,) instances i, i+1 in two words
    left = np.concatenate([[-1], seq[:-1] + crossing])
    right = np.concatenate([seq[1:] + crossing, [-1]])
    return UttAlignment(a.pdf, a.phone, a.state, left[inst].astype(np.int16),
                        right[inst].astype(np.int16))


class Alignments:
    """utt -> UttAlignment, plus the metadata of ali.json."""

    def __init__(self, utts: list[str], offsets: np.ndarray, arrays: dict[str, np.ndarray], meta: dict):
        self.utts, self.offsets, self.arrays, self.meta = utts, offsets, arrays, meta
        self.pos = {u: i for i, u in enumerate(utts)}

    def __contains__(self, utt: str) -> bool:
        return utt in self.pos

    def __getitem__(self, utt: str) -> UttAlignment:
        i = self.pos[utt]
        s, e = self.offsets[i], self.offsets[i + 1]
        return UttAlignment(*(self.arrays[k][s:e] for k in FIELDS))

    def __len__(self) -> int:
        return len(self.utts)


def write_alignments(path: Path, utts: list[str], alis: list[UttAlignment], meta: dict) -> None:
    offsets = np.cumsum([0] + [len(a.pdf) for a in alis]).astype(np.int64)
    arrays = {k: (np.concatenate([getattr(a, k) for a in alis]) if alis else np.zeros(0)).astype(DTYPES[k])
              for k in FIELDS}
    with atomic_output(path / "ali.npz", "wb") as f:
        np.savez(f, utts=np.array(utts, dtype=str), offsets=offsets, **arrays)
    with atomic_output(path / "ali.json") as f:
        json.dump({"format": FORMAT, "version": VERSION, **meta}, f, indent=1, sort_keys=True)
        f.write("\n")


def read_alignments(path: str | os.PathLike) -> Alignments:
    p = Path(path)
    if not (p / "ali.npz").is_file() or not (p / "ali.json").is_file():
        raise DataError(f"{p}: not an alignment dir (ali.npz/ali.json missing); run "
                        "`speechlang asr align` first")
    try:
        meta = json.loads((p / "ali.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError(f"{p / 'ali.json'}: not valid JSON ({e})") from None
    z = load_npz(p / "ali.npz")
    missing = [k for k in ("utts", "offsets", *FIELDS) if k not in z]
    if missing:
        raise FormatError(f"{p / 'ali.npz'}: no {', '.join(missing)} array(s); rerun `speechlang asr align`")
    utts, offsets = [str(u) for u in z["utts"].ravel()], z["offsets"]
    arrays = {k: z[k] for k in FIELDS}
    if (not isinstance(meta, dict) or meta.get("format") != FORMAT or offsets.shape != (len(utts) + 1,)
            or offsets.dtype.kind not in "iu" or offsets[0] != 0 or np.any(offsets[1:] < offsets[:-1])
            or any(a.shape != (offsets[-1],) or a.dtype.kind not in "iu" for a in arrays.values())):
        raise FormatError(f"{p}: ali.npz and ali.json are inconsistent")
    return Alignments(utts, offsets, arrays, meta)


def write_ctm(path: str | os.PathLike, rows: list[tuple[str, float, float, str]]) -> None:
    """rows of (utt, start s, duration s, token) in NIST CTM (channel 1)."""
    with atomic_output(path) as f:
        for utt, start, dur, tok in rows:
            f.write(f"{utt} 1 {start:.2f} {dur:.2f} {tok}\n")


def read_ctm(path: str | os.PathLike) -> list[tuple[str, float, float, str]]:
    rows = []
    for lineno, line in enumerate(iter_lines(path), 1):
        f = line.split()
        try:
            rows.append((f[0], float(f[2]), float(f[3]), f[4]))
        except (IndexError, ValueError):
            raise FormatError(f"{path}:{lineno}: expected 'UTT CHANNEL START DUR TOKEN'") from None
    return rows

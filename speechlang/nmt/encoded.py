"""The prepared-data directory: token ids as one flat array per split and side, plus offsets.

    write_side(dir, "train", "en", seqs); ids, offsets = read_side(dir, "train", "en")

Layout (nanoGPT's `train.bin` idea, with offsets so sentences can be batched by length):
  {split}.{lang}.ids.npy       int32, all sentences' subword ids end to end (no bos/eos)
  {split}.{lang}.offsets.npy   int64, n+1 entries: sentence i is ids[offsets[i]:offsets[i+1]]
  {split}.{lang}.txt           the raw (kept) target lines of dev/test splits, for BLEU
  spm.model | spm.{lang}.model the sentencepiece model(s), or
  vocab.txt | vocab.{lang}.txt word vocabularies (prepare --model-type word; words.py)
  meta.json                    format, languages, vocab sizes and hashes, per-split counts
Arrays are opened with mmap, so a corpus never has to fit in memory twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from speechlang.errors import DataError, FormatError
from speechlang.io import load_npy

FORMAT, VERSION = "speechlang-nmt-data", 1


def write_side(d: str | os.PathLike, split: str, lang: str, seqs: list[list[int]]) -> int:
    """Write the id and offset arrays of one split and side; returns the token count."""
    lens = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    offsets = np.zeros(len(seqs) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    ids = np.fromiter((t for s in seqs for t in s), np.int32, int(offsets[-1]))
    np.save(Path(d) / f"{split}.{lang}.ids.npy", ids)
    np.save(Path(d) / f"{split}.{lang}.offsets.npy", offsets)
    return int(offsets[-1])


def read_side(d: str | os.PathLike, split: str, lang: str, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids int32 memmap, offsets int64) of one split and side, validated against `vocab_size`."""
    base = Path(d) / f"{split}.{lang}"
    for f in (f"{base}.ids.npy", f"{base}.offsets.npy"):
        if not os.path.isfile(f):
            raise DataError(f"{f}: missing; rerun `speechlang nmt prepare`")
    ids, offsets = load_npy(f"{base}.ids.npy", mmap_mode="r"), load_npy(f"{base}.offsets.npy")
    if (ids.ndim != 1 or offsets.ndim != 1 or ids.dtype.kind not in "iu" or offsets.dtype.kind not in "iu"
            or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ids)
            or np.any(offsets[1:] < offsets[:-1])):
        raise FormatError(f"{base}.ids.npy/.offsets.npy do not match (truncated or mixed up?); "
                          "rerun `speechlang nmt prepare`")
    if len(ids) and (int(ids.max()) >= vocab_size or int(ids.min()) < 0):
        raise FormatError(f"{base}.ids.npy: ids outside the vocabulary of {vocab_size}; "
                          "the data and the vocabulary do not belong together")
    return ids, offsets


def write_meta(d: str | os.PathLike, meta: dict) -> dict:
    """Write meta.json with the format header; returns what was written."""
    meta = {"format": FORMAT, "version": VERSION, **meta}
    (Path(d) / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def read_meta(d: str | os.PathLike) -> dict:
    p = Path(d) / "meta.json"
    if not p.is_file():
        raise DataError(f"{d}: not a prepared data directory (no meta.json); run `speechlang nmt prepare`")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError(f"{p}: not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FormatError(f"{p}: not a speechlang nmt data directory")
    if not isinstance(meta.get("version", 0), int) or meta.get("version", 0) > VERSION:
        raise FormatError(f"{p}: format version {meta['version']!r} is not one this speechlang reads "
                          f"(<= {VERSION}); upgrade speechlang or rerun `speechlang nmt prepare`")
    return meta

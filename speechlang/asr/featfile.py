"""Feature archives: one flat float32 matrix per data dir plus an index (reader, writer, validator).

    feats = read_feats("exp/feats/train"); x = feats["spk1-001"]   # (frames, dim) float32

A feature dir is a copy of the data dir (wav.scp with absolute paths, text, utt2spk,
spk2utt, segments) plus:

    feats.npy     float32 (total_frames, dim), utterances one after another (np.load, mmap)
    feats.index   UTT START NUM_FRAMES per line, in data-dir (C sort) order
    feats.json    {"format": "speechlang-feats", "version": 1, "config": FeatureConfig, "dim": D,
                   "num_utts": U, "num_frames": T}

Every later step (training, alignment, decoding) takes a feature dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from speechlang.asr.datadir import DataDir, read_datadir, subset_datadir, write_datadir
from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_output, iter_lines, load_npy

FORMAT, VERSION = "speechlang-feats", 1


class FeatureArchive:
    """Read-only view of a feature dir: mapping utt -> (frames, dim) float32 array."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_path = self.path / "feats.json"
        if not meta_path.is_file():
            raise DataError(f"{self.path}: not a feature dir (no feats.json); run "
                            "`speechlang asr features DATA OUT` first")
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise FormatError(f"{meta_path}: not valid JSON ({e})") from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != FORMAT:
            raise FormatError(f"{meta_path}: not a speechlang feature dir")
        if not isinstance(self.meta.get("dim"), int) or not isinstance(self.meta.get("config"), dict):
            raise FormatError(f"{meta_path}: no integer 'dim' or no 'config'; rerun `speechlang asr features`")
        self.index: dict[str, tuple[int, int]] = {}
        for lineno, line in enumerate(iter_lines(self.path / "feats.index"), 1):
            f = line.split()
            try:
                start, frames = int(f[1]), int(f[2])
            except (IndexError, ValueError):
                start = frames = -1
            if start < 0 or frames < 0:
                raise FormatError(f"{self.path / 'feats.index'}:{lineno}: expected 'UTT START "
                                  "NUM_FRAMES' (whole numbers >= 0)")
            self.index[f[0]] = (start, frames)
        self.data = load_npy(self.path / "feats.npy", mmap_mode="r")
        if self.data.ndim != 2 or self.data.dtype.kind != "f" or self.data.shape[1] != self.meta["dim"]:
            raise FormatError(f"{self.path / 'feats.npy'}: a {self.data.dtype} array of shape {self.data.shape}; "
                              f"feats.json expects float (frames, {self.meta['dim']})")
        end = max((s + n for s, n in self.index.values()), default=0)
        if end > self.data.shape[0]:
            raise FormatError(f"{self.path / 'feats.npy'}: truncated ({self.data.shape[0]} frames, "
                              f"the index needs {end})")

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def config(self) -> dict:
        return self.meta["config"]

    def __contains__(self, utt: str) -> bool:
        return utt in self.index

    def __getitem__(self, utt: str) -> np.ndarray:
        s, n = self.index[utt]
        return np.array(self.data[s:s + n], dtype=np.float32)

    def __len__(self) -> int:
        return len(self.index)

    def utts(self) -> list[str]:
        return list(self.index)

    def datadir(self) -> DataDir:
        return read_datadir(self.path)


def read_feats(path: str | os.PathLike) -> FeatureArchive:
    return FeatureArchive(path)


def write_feats(out_dir: Path, d: DataDir, utts: list[str], feats: list[np.ndarray],
                config: dict) -> None:
    """Write a complete feature dir into `out_dir` (an existing, empty directory)."""
    dim = feats[0].shape[1]
    write_datadir(subset_datadir(d, utts, out_dir), out_dir)
    starts = np.cumsum([0] + [f.shape[0] for f in feats])
    with atomic_output(out_dir / "feats.npy", "wb") as f:
        np.save(f, np.concatenate(feats, axis=0).astype(np.float32) if feats else
                np.zeros((0, dim), np.float32))
    with atomic_output(out_dir / "feats.index") as f:
        for u, s, x in zip(utts, starts[:-1], feats, strict=True):
            f.write(f"{u} {s} {x.shape[0]}\n")
    meta = {"format": FORMAT, "version": VERSION, "config": config, "dim": int(dim),
            "num_utts": len(utts), "num_frames": int(starts[-1])}
    with atomic_output(out_dir / "feats.json") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")

"""Prepared data: encoded arrays round-trip, filters count what they drop, token batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechlang.errors import DataError, FormatError
from speechlang.nmt.corpus import PairStats, iter_pairs, keep_pair
from speechlang.nmt.encoded import read_meta, read_side
from speechlang.nmt.prepare import PrepareConfig, load_vocabs, prepare
from speechlang.nmt.train import token_batches

FIX = Path(__file__).parent.parent / "fixtures" / "nmt"


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(x + "\n" for x in lines), "utf-8")


@pytest.mark.parametrize("model_type,joint", [("unigram", True), ("bpe", False)])
def test_prepare_round_trip(tmp_path, model_type, joint):
    cfg = PrepareConfig(train=str(FIX / "toy.train"), dev=str(FIX / "toy.dev"), src="src", tgt="tgt",
                        model_type=model_type, vocab_size=24, joint=joint)
    meta = prepare(cfg, tmp_path / "data")
    assert meta == read_meta(tmp_path / "data")
    sv, tv = load_vocabs(tmp_path / "data", meta)
    names = ["spm.model"] if joint else ["spm.src.model", "spm.tgt.model"]
    assert sorted(p.name for p in (tmp_path / "data").glob("spm*.model")) == names
    src_lines = (FIX / "toy.dev.src").read_text().splitlines()
    ids, off = read_side(tmp_path / "data", "dev", "src", len(sv))
    assert len(off) == len(src_lines) + 1 and ids.dtype == np.int32
    for i in (0, 7, len(src_lines) - 1):
        piece_ids = ids[off[i]:off[i + 1]].tolist()
        assert piece_ids == sv.encode([src_lines[i]])[0]
        assert sv.decode(piece_ids) == src_lines[i]
    assert meta["splits"]["train"]["kept"] == 3000
    assert (tmp_path / "data" / "dev.tgt.txt").read_text() == (FIX / "toy.dev.tgt").read_text()


def test_filters_count_what_they_drop(tmp_path):
    src = ["a b", "", "a b c d e f g h", "a", "a b c"]
    tgt = ["x y", "x", "x y", "x y z w v", "x y z"]
    write(tmp_path / "c.s", src)
    write(tmp_path / "c.t", tgt)
    stats = PairStats()
    pairs = list(iter_pairs(tmp_path / "c.s", tmp_path / "c.t", stats))
    assert [n for n, _, _ in pairs] == [1, 3, 4, 5]
    assert (stats.empty, stats.first_empty, stats.lines) == (1, 2, 5)
    # whitespace words as the lengths: max_len 6 drops line 3, ratio 3 drops line 4 (5/1)
    kept = [n for n, x, y in pairs if keep_pair(len(x.split()), len(y.split()), 6, 3.0, stats)]
    assert kept == [1, 5]
    assert (stats.too_long, stats.bad_ratio, stats.kept) == (1, 1, 2)


def test_line_count_mismatch_names_first_line(tmp_path):
    write(tmp_path / "c.s", ["a", "b", "c"])
    write(tmp_path / "c.t", ["x", "y"])
    with pytest.raises(DataError, match=r"c\.s:3 goes on: the first mismatching line is 3"):
        list(iter_pairs(tmp_path / "c.s", tmp_path / "c.t"))


def test_corrupt_arrays_are_format_errors(tmp_path):
    cfg = PrepareConfig(train=str(FIX / "toy.dev"), src="src", tgt="tgt", vocab_size=20)
    prepare(cfg, tmp_path / "d")
    np.save(tmp_path / "d" / "train.src.offsets.npy", np.array([0, 5, 3], np.int64))
    with pytest.raises(FormatError, match="do not match"):
        read_side(tmp_path / "d", "train", "src", 20)
    with pytest.raises(FormatError, match="outside the vocabulary"):
        read_side(tmp_path / "d", "train", "tgt", 5)


def test_token_batches_cover_all_within_budget():
    rng = np.random.default_rng(0)
    sl, tl = rng.integers(1, 40, 500), rng.integers(1, 40, 500)
    b0 = token_batches(sl, tl, 200, epoch=0, seed=1)
    assert sorted(np.concatenate(b0).tolist()) == list(range(500))
    for b in b0:
        assert len(b) == 1 or len(b) * (max(sl[b].max(), tl[b].max()) + 1) <= 200
    again = token_batches(sl, tl, 200, epoch=0, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(b0, again, strict=True))
    other = token_batches(sl, tl, 200, epoch=1, seed=1)
    assert not all(len(a) == len(b) and np.array_equal(a, b) for a, b in zip(b0, other, strict=False))

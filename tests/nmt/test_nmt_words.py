"""Word-level vocabularies: hand-counted types, <unk>, the prepared directory and corrupt files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechlang.errors import ConfigError, FormatError
from speechlang.nmt.encoded import read_side
from speechlang.nmt.prepare import PrepareConfig, load_vocabs, prepare
from speechlang.nmt.subword import EOS, UNK
from speechlang.nmt.words import HEADER, WordVocab, load_vocab, train_words, vocab_from_bytes

FIX = Path(__file__).parent.parent / "fixtures" / "nmt"
LINES = ["the cat saw the dog", "a dog saw a cat", "the end"]  # the 3, cat 2, saw 2, dog 2, a 2, end 1


def test_most_frequent_types_in_order():
    v = WordVocab(train_words(LINES))
    assert v.words == ["<pad>", "<unk>", "<s>", "</s>", "the", "a", "cat", "dog", "saw", "end"]
    assert v.counts[4:] == [3, 2, 2, 2, 2, 1] and v.counts[UNK] == 0
    small = WordVocab(train_words(LINES, vocab_size=7))  # 4 specials + the, a, cat; ties by byte order
    assert small.words[4:] == ["the", "a", "cat"]
    assert small.counts[UNK] == 5  # dog 2 + saw 2 + end 1: the occurrences left out
    assert WordVocab(train_words(LINES, min_count=2)).words[4:] == ["the", "a", "cat", "dog", "saw"]
    ids = small.encode(["the dog saw a  cat", ""])
    assert ids == [[4, UNK, UNK, 5, 6], []]
    assert small.decode([2, *ids[0], EOS, 0]) == "the <unk> <unk> a cat"


def test_bad_options_and_files(tmp_path):
    with pytest.raises(ConfigError, match="--vocab-size"):
        train_words(LINES, vocab_size=3)
    with pytest.raises(ConfigError, match="--min-count"):
        train_words(LINES, min_count=0)
    with pytest.raises(FormatError, match="header"):
        WordVocab(b"the\t3\n", "v.txt")
    proto = train_words(LINES)
    with pytest.raises(FormatError, match=r"v\.txt:6: expected"):
        WordVocab(proto.replace(b"the\t3", b"the 3"), "v.txt")
    with pytest.raises(FormatError, match="listed twice"):
        WordVocab(proto + b"the\t1\n", "v.txt")
    # the loader tells the kinds apart by content
    (tmp_path / "v.txt").write_bytes(proto)
    assert isinstance(load_vocab(tmp_path / "v.txt"), WordVocab)
    with pytest.raises(FormatError, match="sentencepiece"):
        vocab_from_bytes(b"not a model", "x.model")
    assert proto.startswith(HEADER.encode())


@pytest.mark.parametrize("joint", [True, False])
def test_prepare_words(tmp_path, joint):
    cfg = PrepareConfig(train=str(FIX / "toy.dev"), dev=str(FIX / "toy.test"), src="src", tgt="tgt",
                        model_type="word", vocab_size=9, joint=joint)
    meta = prepare(cfg, tmp_path / "d")
    names = ["vocab.txt"] if joint else ["vocab.src.txt", "vocab.tgt.txt"]
    assert sorted(p.name for p in (tmp_path / "d").glob("vocab*.txt")) == names
    assert not list((tmp_path / "d").glob("spm*"))
    sv, tv = load_vocabs(tmp_path / "d", meta)
    assert isinstance(sv, WordVocab) and len(sv) == len(tv) == 9 == meta["vocab_size"]["tgt"]
    lines = (FIX / "toy.test.tgt").read_text().splitlines()
    ids, off = read_side(tmp_path / "d", "dev", "tgt", len(tv))
    assert ids[off[3]:off[4]].tolist() == tv.encode([lines[3]])[0]
    # 5 of the 10 digits have an id: the other half of the tokens are <unk>, and counted
    n_unk = sum(tv.encode([x])[0].count(UNK) for x in lines)
    assert meta["splits"]["dev"]["unk_tgt"] == n_unk > 0
    assert isinstance(vocab_from_bytes(Path(tmp_path / "d" / names[0]).read_bytes()), WordVocab)


def test_all_types_with_vocab_size_zero(tmp_path, cli):
    r = cli("nmt", "prepare", "--train", FIX / "toy.dev", "--src", "src", "--tgt", "tgt", "--model-type", "word",
            "--vocab-size", "0", "-o", tmp_path / "d", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["vocab_size"] == {"src": 14, "tgt": 14}  # 10 digits + 4 specials
    r = cli("nmt", "prepare", "--train", FIX / "toy.dev", "--src", "src", "--tgt", "tgt", "--min-count", "2",
            "-o", tmp_path / "e")
    assert r.exit_code == 1 and "--min-count applies to --model-type word" in r.stderr

"""Every file reader on random bytes, truncations and single-byte mutations of a valid file.

A reader may accept the input or raise a SpeechlangError (FormatError, DataError, ...); any
other exception, or a read that takes longer than HANG_S, fails the test. Hypothesis runs
derandomized with a fixed budget per reader, so a run repeats exactly.
"""

from __future__ import annotations

import contextlib
import gzip
import signal
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechlang.errors import SpeechlangError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HANG_S = 20  # generous: the first call of a reader may compile a numba kernel
EXAMPLES = 60  # per reader and kind of corruption

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no reader's `except Exception` hides it."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def alarm(signum, frame):
        raise Hang

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------- valid files
# Each case writes a small valid file set into a directory and reads it back the way the
# commands do; `files` are the ones corrupted (one at a time, the others stay valid).

ARPA = b"""\\data\\
ngram 1=4
ngram 2=3

\\1-grams:
-1.0\t<s>\t-0.30103
-0.5\ta\t-0.2
-0.6\tb
-0.7\t</s>

\\2-grams:
-0.1\t<s> a
-0.2\ta b
-0.3\tb </s>

\\end\\
"""
COUNTS = b"a\t3\nb\t2\n</s>\t2\n<s> a\t2\na b\t2\nb </s>\t2\n<s> a b\t2\n"


def _w2v(binary: bool):
    def build(d: Path) -> None:
        from speechlang.w2v.vecformat import write_vectors

        vecs = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
        write_vectors(d / ("v.bin" if binary else "v.txt"), ["the", "cat", "sät", "</s>"], vecs, binary=binary)

    def read(d: Path) -> None:
        from speechlang.w2v.vecformat import read_vectors

        name = "v.bin" if binary else "v.txt"
        read_vectors(d / name)
        read_vectors(d / name, format="binary" if binary else "text")

    return build, read


def _datadir(d: Path) -> None:
    (d / "wav.scp").write_text("rec1 audio/rec1.flac\nrec2 /nonexistent/rec2.wav\n")
    (d / "segments").write_text("s1-u1 rec1 0 1.5\ns1-u2 rec1 1.5 -1\ns2-u1 rec2 0.25 2\n")
    (d / "text").write_text("s1-u1 hello world\ns1-u2 hi\ns2-u1 hello\n")
    (d / "utt2spk").write_text("s1-u1 s1\ns1-u2 s1\ns2-u1 s2\n")
    (d / "spk2utt").write_text("s1 s1-u1 s1-u2\ns2 s2-u1\n")
    (d / "audio").mkdir()
    (d / "audio" / "rec1.flac").write_bytes(b"\0" * 16)


def _read_datadir(d: Path) -> None:
    from speechlang.asr.datadir import read_datadir, read_table, validate_datadir

    validate_datadir(d, check_audio=True)
    read_table(d / "text", 1)
    dd = read_datadir(d)
    dd.spk2utt()
    for u in dd.utts:
        dd.source(u)


def _feats(d: Path) -> None:
    from speechlang.asr.datadir import read_datadir
    from speechlang.asr.featfile import write_feats

    _datadir(d)
    rng = np.random.default_rng(1)
    dd = read_datadir(d)
    feats = [rng.standard_normal((n, 5)).astype(np.float32) for n in (3, 1, 4)]
    write_feats(d, dd, dd.utts, feats, {"kind": "mfcc", "frame_shift_ms": 10.0})


def _read_feats(d: Path) -> None:
    from speechlang.asr.featfile import read_feats

    f = read_feats(d)
    for u in f.utts():
        assert f[u].shape[1] == f.dim
    f.config.get("frame_shift_ms")


def _ali(d: Path) -> None:
    from speechlang.asr.alignfile import UttAlignment, write_alignments, write_ctm

    alis = [UttAlignment(*(np.arange(n) % 3 for _ in range(5))) for n in (3, 2)]
    write_alignments(d, ["s1-u1", "s1-u2"], alis, {"num_pdfs": 3, "frame_shift_s": 0.01, "phones": ["SIL", "a"]})
    write_ctm(d / "words.ctm", [("s1-u1", 0.0, 0.5, "hello"), ("s1-u2", 0.1, 0.2, "hi")])


def _read_ali(d: Path) -> None:
    from speechlang.asr.alignfile import read_alignments, read_ctm

    ali = read_alignments(d)
    for u in ali.utts:
        ali[u]
    read_ctm(d / "words.ctm")


def _idx(gz: bool):
    sfx = ".gz" if gz else ""

    def build(d: Path) -> None:
        from speechlang.vision.idx import write_idx

        rng = np.random.default_rng(2)
        write_idx(d / f"t-images-idx3-ubyte{sfx}", rng.integers(0, 256, (3, 4, 5), dtype=np.uint8))
        write_idx(d / f"t-labels-idx1-ubyte{sfx}", np.array([0, 2, 1], np.uint8))

    def read(d: Path) -> None:
        from speechlang.vision.data import load_images

        load_images(d / f"t-images-idx3-ubyte{sfx}")

    return build, read


def _npz(d: Path) -> None:
    from speechlang.vision.npz import write_npz

    rng = np.random.default_rng(3)
    write_npz(d / "d.npz", rng.integers(0, 256, (3, 4, 4), dtype=np.uint8), np.array([0, 1, 1]), ["a", "b"])


def _read_image(name: str):
    def read(d: Path) -> None:
        from speechlang.vision.data import read_image

        read_image(d / name)

    return read


def _png(d: Path) -> None:
    from speechlang.vision.png import write_png

    write_png(d / "i.png", np.random.default_rng(4).integers(0, 256, (3, 5, 3), dtype=np.uint8))


def _png_fix_crc(data: bytes) -> bytes:
    """Recompute every chunk CRC, so a mutation reaches the decoder instead of the CRC check."""
    out, pos = bytearray(data), 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 8 + length
        if end + 4 > len(data):
            break
        out[end:end + 4] = struct.pack(">I", zlib.crc32(data[pos + 4:end]))
        pos = end + 4
    return bytes(out)


def _pgm(d: Path) -> None:
    from speechlang.vision.pnm import write_pnm

    write_pnm(d / "i.pgm", np.random.default_rng(5).integers(0, 256, (4, 3), dtype=np.uint8))


def _checkpoint(d: Path) -> None:
    from speechlang.accel import save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(d / "c.pt", {"model": torch.nn.Linear(3, 2).state_dict(), "step": 7, "config": {"lr": 0.1}})


def _read_checkpoint(d: Path) -> None:
    from speechlang.accel import load_checkpoint

    load_checkpoint(d / "c.pt")


def _nmt_data(d: Path) -> None:
    from speechlang.nmt.encoded import write_meta, write_side

    write_side(d, "train", "en", [[4, 5, 6], [7], [8, 9]])
    write_meta(d, {"vocab_size": 12, "langs": ["en", "es"]})


def _read_nmt_data(d: Path) -> None:
    from speechlang.nmt.encoded import read_meta, read_side

    read_meta(d)
    read_side(d, "train", "en", 12)


def _spm(d: Path) -> None:
    from speechlang.nmt.subword import train_subword

    lines = (FIXTURES / "nmt" / "toy.dev.src").read_text(encoding="utf-8").splitlines()
    (d / "spm.model").write_bytes(train_subword(lines, "bpe", 40))


def _read_spm(d: Path) -> None:
    from speechlang.nmt.subword import Vocab

    v = Vocab.load(d / "spm.model")
    v.decode(v.encode(["the cat sat"])[0])


def _file(name: str, data: bytes):
    def build(d: Path) -> None:
        (d / name).write_bytes(data)

    return build


def _reader(module: str, func: str, name: str):
    def read(d: Path) -> None:
        import importlib

        getattr(importlib.import_module(module), func)(d / name)

    return read


@dataclass
class Case:
    name: str
    build: callable
    read: callable
    files: list[str]
    post: callable = field(default=lambda b: b)  # applied to each corrupted file (e.g. fix CRCs)


CASES = [
    Case("arpa", _file("lm.arpa", ARPA), _reader("speechlang.ngram.arpa", "read_arpa", "lm.arpa"), ["lm.arpa"]),
    Case("arpa-gz", _file("lm.arpa.gz", gzip.compress(ARPA, mtime=0)),
         _reader("speechlang.ngram.arpa", "read_arpa", "lm.arpa.gz"), ["lm.arpa.gz"]),
    Case("ngram-counts", _file("c.txt", COUNTS), _reader("speechlang.ngram.countfile", "read_counts", "c.txt"),
         ["c.txt"]),
    Case("ngram-counts-gz", _file("c.txt", gzip.compress(COUNTS, mtime=0)),
         _reader("speechlang.ngram.countfile", "read_counts", "c.txt"), ["c.txt"]),
    Case("w2v-text", *_w2v(False), ["v.txt"]),
    Case("w2v-binary", *_w2v(True), ["v.bin"]),
    Case("w2v-vocab", _file("vocab.txt", b"the 5\ncat 2\ns\xc3\xa4t 1\n"),
         _reader("speechlang.w2v.vocab", "read_vocab", "vocab.txt"), ["vocab.txt"]),
    Case("kaldi-datadir", _datadir, _read_datadir, ["wav.scp", "segments", "text", "utt2spk", "spk2utt"]),
    Case("kaldi-feats", _feats, _read_feats, ["feats.json", "feats.index", "feats.npy"]),
    Case("kaldi-ali", _ali, _read_ali, ["ali.npz", "ali.json", "words.ctm"]),
    Case("idx", *_idx(False), ["t-images-idx3-ubyte", "t-labels-idx1-ubyte"]),
    Case("idx-gz", *_idx(True), ["t-images-idx3-ubyte.gz", "t-labels-idx1-ubyte.gz"]),
    Case("npz", _npz, _reader("speechlang.vision.npz", "read_npz", "d.npz"), ["d.npz"]),
    Case("png", _png, _read_image("i.png"), ["i.png"]),
    Case("png-fixed-crc", _png, _read_image("i.png"), ["i.png"], _png_fix_crc),
    Case("pgm", _pgm, _read_image("i.pgm"), ["i.pgm"]),
    Case("pgm-plain", _file("i.pgm", b"P2\n# a comment\n3 2\n15\n0 1 2\n13 14 15\n"), _read_image("i.pgm"),
         ["i.pgm"]),
    Case("checkpoint", _checkpoint, _read_checkpoint, ["c.pt"]),
    Case("nmt-data", _nmt_data, _read_nmt_data, ["meta.json", "train.en.ids.npy", "train.en.offsets.npy"]),
    Case("sentencepiece", _spm, _read_spm, ["spm.model"]),
]


# ------------------------------------------------------------------------------- corruptions

def random_bytes(valid: bytes):
    return st.binary(max_size=min(2 * len(valid) + 16, 8192))


def truncations(valid: bytes):
    return st.integers(0, len(valid) - 1).map(lambda n: valid[:n])


def mutations(valid: bytes):
    return st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
        lambda t: valid[:t[0]] + bytes([t[1]]) + valid[t[0] + 1:])


KINDS = {"random": random_bytes, "truncate": truncations, "mutate": mutations}


def read_checked(case: Case, d: Path) -> None:
    """Read; only a SpeechlangError may come out, and only within HANG_S."""
    try:
        with time_limit(HANG_S):
            case.read(d)
    except SpeechlangError:
        pass
    except Hang:
        pytest.fail(f"{case.name}: the reader ran longer than {HANG_S} s")


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """case name -> {file: valid bytes}, built once; each valid set must read without error."""
    out = {}
    for case in CASES:
        d = tmp_path_factory.mktemp(case.name)
        case.build(d)
        case.read(d)
        out[case.name] = {f: (d / f).read_bytes() for f in case.files}
    return out


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reader_raises_only_typed_errors(case, kind, valid_files, tmp_path):
    valid = valid_files[case.name]
    case.build(tmp_path)

    @FUZZ
    @given(data=st.data())
    def run(data):
        name = data.draw(st.sampled_from(case.files), label="file")
        bad = case.post(data.draw(KINDS[kind](valid[name]), label="bytes"))
        for f, b in valid.items():
            (tmp_path / f).write_bytes(bad if f == name else b)
        read_checked(case, tmp_path)

    run()


def test_corrupt_gzip_stream_is_a_format_error(tmp_path):
    """zlib.error (not an OSError) from a damaged deflate stream becomes a FormatError."""
    from speechlang.errors import FormatError
    from speechlang.io import iter_lines

    data = bytearray(gzip.compress(b"a b c\n" * 100, mtime=0))
    data[12:20] = b"\xff" * 8
    (tmp_path / "c.txt").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="corrupt gzip"):
        list(iter_lines(tmp_path / "c.txt"))


def test_pgm_comment_run_does_not_backtrack():
    """A header of many '#' and no number is rejected at once (the token regex is linear)."""
    from speechlang.errors import FormatError
    from speechlang.vision.pnm import decode_pnm

    with time_limit(5), pytest.raises(FormatError, match="header"):
        decode_pnm(b"P5 " + b"#" * 5000 + b"x")

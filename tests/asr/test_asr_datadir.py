"""Data dir validation on broken dirs, --fix, and bad input through the CLI: one clear line,
exit 1, no output left behind."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from speechlang.asr.datadir import read_datadir, validate_datadir
from speechlang.ngram.arpa import read_arpa, write_arpa

TONES = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "tones"


def _write(d: Path, **files: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name.replace("_", ".") if name == "wav_scp" else d / name).write_text(text)
    return d


@pytest.fixture
def good(tmp_path) -> Path:
    audio = tmp_path / "audio"
    audio.mkdir()
    for u in ("a-1", "a-2", "b-1"):
        soundfile.write(audio / f"{u}.wav", (0.1 * np.sin(np.arange(4000) / 5)).astype(np.float32), 16000)
    return _write(tmp_path / "data", wav_scp="a-1 audio/a-1.wav\na-2 audio/a-2.wav\nb-1 audio/b-1.wav\n",
                  text="a-1 ba\na-2 ko di\nb-1 mu\n", utt2spk="a-1 a\na-2 a\nb-1 b\n",
                  spk2utt="a a-1 a-2\nb b-1\n")


def test_good_dir_validates_and_resolves_paths_against_the_corpus_root(good):
    assert validate_datadir(good) == []
    d = read_datadir(good)
    assert d.utts == ["a-1", "a-2", "b-1"]
    assert d.audio_source("a-2") == good.parent / "audio" / "a-2.wav"


def test_every_problem_is_reported(good):
    (good / "text").write_text("a-2 ko di\na-1 ba\nb-1 mu\nc-9 extra\n")  # unsorted + extra id
    (good / "utt2spk").write_text("a-1 a\na-2 a\nb-1 x\n")  # speaker not a prefix
    (good.parent / "audio" / "a-2.wav").unlink()  # missing audio
    problems = validate_datadir(good)
    joined = "\n".join(problems)
    assert "not sorted" in joined and "text:" in joined
    assert "not a prefix" in joined
    assert "not in utt2spk" in joined and "'c-9'" in joined
    assert "a-2.wav does not exist" in joined
    assert "spk2utt: does not match utt2spk" in joined
    assert len(problems) >= 5


def test_fix_sorts_and_regenerates_spk2utt(good):
    (good / "text").write_text("b-1 mu\na-2 ko di\na-1 ba\n")
    (good / "spk2utt").unlink()
    from speechlang.asr.datadir import fix_datadir
    assert fix_datadir(good) == []
    assert (good / "text").read_text() == "a-1 ba\na-2 ko di\nb-1 mu\n"
    assert (good / "spk2utt").read_text() == "a a-1 a-2\nb b-1\n"


def test_validate_cli_lists_problems_and_exits_1(cli, good):
    (good / "utt2spk").write_text("a-1 a\nb-1 b\n")
    r = cli("asr", "validate", good)
    assert r.exit_code == 1
    assert "utterance(s) of utt2spk missing" in r.stdout or "not in utt2spk" in r.stdout
    assert r.stderr.strip().count("\n") == 0 and "problem(s) found" in r.stderr
    r = cli("asr", "validate", good, "--fix")
    assert r.exit_code == 1  # ids that do not match cannot be fixed


def _one_line_error(r, *words):
    assert r.exit_code == 1, (r.exit_code, r.stdout, r.stderr)
    lines = [x for x in r.stderr.strip().splitlines() if "error" in x or "Traceback" in x]
    assert len(lines) == 1 and lines[0].startswith("speechlang: error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_features_bad_audio(cli, good, tmp_path):
    (good.parent / "audio" / "a-2.wav").write_bytes(b"")  # empty file
    r = cli("asr", "features", good, tmp_path / "f")
    _one_line_error(r, "a-2")
    assert not (tmp_path / "f").exists()
    (good.parent / "audio" / "a-2.wav").write_bytes(b"RIFF garbage")  # unreadable
    r = cli("asr", "features", good, tmp_path / "f", "--on-error", "error", "--no-energy")
    _one_line_error(r, "a-2")
    r = cli("asr", "features", good, tmp_path / "missing" / "f")
    _one_line_error(r)
    assert not (tmp_path / "missing").exists()


def test_features_silence_only_and_short_audio(cli, good, tmp_path):
    soundfile.write(good.parent / "audio" / "b-1.wav", np.zeros(100, np.float32), 16000)
    r = cli("asr", "features", good, tmp_path / "f")
    _one_line_error(r, "b-1", "shorter than one frame")


@pytest.fixture(scope="module")
def tones_feats(tmp_path_factory, run_ok):
    out = tmp_path_factory.mktemp("tf")
    for split in ("train", "test"):
        run_ok("asr", "features", TONES / split, out / split)
    return out


def test_words_missing_from_the_lexicon_are_listed(cli, tones_feats, tmp_path):
    lex = tmp_path / "lex.txt"
    lex.write_text("!SIL SIL\nba P1 P2\nko P3 P4\n<unk> P1\n")
    r = cli("asr", "train-mono", tones_feats / "train", lex, tmp_path / "m")
    _one_line_error(r, "not in the lexicon", "'di'", "'mu'", "--oov-word")
    assert not (tmp_path / "m").exists()
    r = cli("asr", "train-mono", tones_feats / "train", lex, tmp_path / "m", "--oov-word", "<unk>",
            "--iters", 2, "--gaussians", 20)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "m" / "gmm.npz").is_file()


def test_lm_that_does_not_cover_the_lexicon(cli, tones_feats, tmp_path):
    r = cli("asr", "train-mono", tones_feats / "train", TONES / "lexicon.txt", tmp_path / "m",
            "--iters", 2, "--gaussians", 20)
    assert r.exit_code == 0
    lm = read_arpa(TONES / "lm.arpa")  # no <unk>; drop the word "mu"
    lm.ngrams = [{k: v for k, v in table.items() if "mu" not in k} for table in lm.ngrams]
    write_arpa(lm, tmp_path / "small.arpa")
    r = cli("asr", "decode", tones_feats / "test", tmp_path / "m", "--lm", tmp_path / "small.arpa",
            "-O", tmp_path / "hyp")
    _one_line_error(r, "does not cover the lexicon", "mu", "--restrict-vocab")
    assert not (tmp_path / "hyp").exists()
    r = cli("asr", "decode", tones_feats / "test", tmp_path / "m", "--lm", tmp_path / "small.arpa",
            "-O", tmp_path / "hyp", "--restrict-vocab")
    assert r.exit_code == 0, r.stderr
    assert "mu" not in (tmp_path / "hyp").read_text().split()


def test_decode_bad_inputs(cli, tones_feats, tmp_path):
    r = cli("asr", "train-mono", tones_feats / "train", TONES / "lexicon.txt", tmp_path / "m",
            "--iters", 1, "--gaussians", 15)
    assert r.exit_code == 0
    (tmp_path / "bad.arpa").write_text("this is not an arpa file\n")
    r = cli("asr", "decode", tones_feats / "test", tmp_path / "m", "--lm", tmp_path / "bad.arpa",
            "-O", tmp_path / "hyp")
    _one_line_error(r, "bad.arpa")
    assert not (tmp_path / "hyp").exists()
    shutil.copytree(tmp_path / "m", tmp_path / "broken")
    (tmp_path / "broken" / "tree.json").unlink()
    r = cli("asr", "decode", tones_feats / "test", tmp_path / "broken", "--lm", TONES / "lm.arpa")
    _one_line_error(r, "tree.json")
    r = cli("asr", "align", tmp_path / "nofeats", tmp_path / "m", tmp_path / "ali")
    _one_line_error(r, "nofeats")


def _spk_dir(tmp_path: Path, n_spk: int, n_utt: int, segments: bool = False) -> Path:
    """n_spk speakers s00.. with n_utt utterances each; with segments, one recording per speaker."""
    utts = [(f"s{s:02d}", f"s{s:02d}-{u}") for s in range(n_spk) for u in range(n_utt)]
    files = {"text": "".join(f"{u} w{i}\n" for i, (_, u) in enumerate(utts)),
             "utt2spk": "".join(f"{u} {s}\n" for s, u in utts)}
    if segments:
        files["segments"] = "".join(f"{u} rec-{s} {i}.5 {i}.9\n" for i, (s, u) in enumerate(utts))
        files["wav_scp"] = "".join(f"rec-s{s:02d} audio/rec-s{s:02d}.flac\n" for s in range(n_spk))
    else:
        files["wav_scp"] = "".join(f"{u} audio/{u}.flac\n" for _, u in utts)
    return _write(tmp_path / "corpus" / "train", **files)


def test_split_by_utterance_and_by_speaker(tmp_path):
    from speechlang.asr.datadir import split_datadir
    d = read_datadir(_spk_dir(tmp_path, n_spk=7, n_utt=3))
    kept, held = split_datadir(d, every=4)
    assert held == d.utts[3::4] and sorted(kept + held) == d.utts
    kept, held = split_datadir(d, every=3, by="speaker")
    assert held == ["s02-0", "s02-1", "s02-2", "s05-0", "s05-1", "s05-2"]
    assert sorted(kept + held) == d.utts and not {u[:3] for u in kept} & {u[:3] for u in held}


def test_split_cli_writes_two_valid_dirs_with_absolute_paths_and_segments(cli, tmp_path):
    src = _spk_dir(tmp_path, n_spk=4, n_utt=2, segments=True)
    (src.parent / "audio").mkdir()
    for s in range(4):  # relative paths resolve against the corpus root when the file is there
        (src.parent / "audio" / f"rec-s{s:02d}.flac").touch()
    r = cli("asr", "split", src, tmp_path / "tr", tmp_path / "dev", "--every", "2", "--by", "speaker",
            "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["kept"]["utterances"], rec["held_out"]["utterances"], rec["held_out"]["speakers"]) == (4, 4, 2)
    for part, spks in (("tr", ("s00", "s02")), ("dev", ("s01", "s03"))):
        assert validate_datadir(tmp_path / part, check_audio=False) == []
        d = read_datadir(tmp_path / part)
        assert sorted({d.utt2spk[u] for u in d.utts}) == list(spks)
        assert sorted(d.wav) == [f"rec-{s}" for s in spks]  # only the recordings it uses
        for rec, path in d.wav.items():
            assert path == str((src.parent / "audio" / f"{rec}.flac").resolve())
        orig = read_datadir(src)
        assert all(d.segments[u] == orig.segments[u] and d.text[u] == orig.text[u] for u in d.utts)


def test_split_bad_input(cli, tmp_path):
    src = _spk_dir(tmp_path, n_spk=3, n_utt=2)
    _one_line_error(cli("asr", "split", src, tmp_path / "a", tmp_path / "b", "--every", "4", "--by",
                        "speaker"), "3 speaker(s)", "nothing to hold out")
    _one_line_error(cli("asr", "split", src, tmp_path / "a", tmp_path / "b", "--every", "1"), "--every")
    _one_line_error(cli("asr", "split", src, tmp_path / "a", tmp_path / "b", "--by", "recording"),
                    "--by")
    _one_line_error(cli("asr", "split", src, tmp_path / "a", src, "--every", "2"), "must differ")
    _one_line_error(cli("asr", "split", src, tmp_path / "a", tmp_path / "a", "--every", "2"), "must differ")
    _one_line_error(cli("asr", "split", tmp_path / "none", tmp_path / "a", tmp_path / "b"),
                    "no such data directory")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


STREAM = """import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.find(b"data")
struct.pack_into("<I", data, 4, int(sys.argv[2]))
struct.pack_into("<I", data, i + 4, int(sys.argv[2]))
sys.stdout.buffer.write(data)
"""


def _piped(good: Path, tmp_path: Path) -> Path:
    """The `good` dir with wav.scp as commands: `cat FILE |` for a-1, and for a-2 and b-1 a
    WAV streamed with unknown length (header sizes 0, and 0xFFFFFFFF)."""
    script = tmp_path / "stream.py"
    script.write_text(STREAM)
    audio = (good.parent / "audio").resolve()
    d = tmp_path / "piped"
    shutil.copytree(good, d)
    (d / "wav.scp").write_text(f"a-1 cat {audio}/a-1.wav |\n"
                               f"a-2 {sys.executable} {script} {audio}/a-2.wav 0 |\n"
                               f"b-1 {sys.executable} {script} {audio}/b-1.wav 4294967295|\n")
    return d


def test_piped_wav_scp_entries_give_the_same_features_as_the_files(cli, good, tmp_path):
    from speechlang.asr.audio import Pipe, read_audio
    from speechlang.asr.featfile import read_feats
    piped = _piped(good, tmp_path)
    assert validate_datadir(piped) == []
    d = read_datadir(piped)
    assert isinstance(d.audio_source("a-1"), Pipe) and d.audio_source("a-1").command.startswith("cat ")
    for u in d.utts:  # what libsndfile alone reads from a size-0 header is 0 samples
        x, sr = read_audio(d.audio_source(u))
        ref, _ = read_audio(good.parent / "audio" / f"{u}.wav")
        assert sr == 16000 and np.array_equal(x, ref)
    for name, src in (("f_files", good), ("f_piped", piped)):
        r = cli("asr", "features", src, tmp_path / name)
        assert r.exit_code == 0, r.stderr
    a, b = read_feats(tmp_path / "f_files"), read_feats(tmp_path / "f_piped")
    for u in d.utts:
        assert np.array_equal(a[u], b[u])
    assert read_datadir(tmp_path / "f_piped").wav == d.wav  # commands kept as written


def test_piped_recording_with_segments(good, tmp_path):
    from speechlang.asr.audio import read_audio
    audio = (good.parent / "audio").resolve()
    d = _write(tmp_path / "seg", wav_scp=f"rec cat {audio}/a-1.wav |\n",
               segments="a-1 rec 0.05 0.2\na-2 rec 0.1 -1\n", text="a-1 ba\na-2 ko\n",
               utt2spk="a-1 a\na-2 a\n")
    dd = read_datadir(d)
    whole, _ = read_audio(audio / "a-1.wav")
    x, _ = read_audio(*dd.source("a-1"))
    assert np.array_equal(x, whole[800:3200])
    x, _ = read_audio(*dd.source("a-2"))
    assert np.array_equal(x, whole[1600:])


def test_piped_entries_bad_input(cli, good, tmp_path):
    audio = (good.parent / "audio").resolve()
    (good / "wav.scp").write_text(f"a-1 cat {audio}/a-1.wav |\n"
                                  f"a-2 cat {audio}/none.wav |\n"
                                  f"b-1 no-such-program-xyz {audio}/b-1.wav |\n")
    problems = validate_datadir(good)
    assert problems == [f"{good / 'wav.scp'}: b-1: command 'no-such-program-xyz' not found"]
    r = cli("asr", "features", good, tmp_path / "f", "--on-error", "skip")
    assert r.exit_code == 1  # under 95% of the utterances readable
    (good / "wav.scp").write_text(f"a-1 cat {audio}/a-1.wav |\na-2 cat {audio}/none.wav |\n"
                                  f"b-1 cat {audio}/b-1.wav |\n")
    _one_line_error(cli("asr", "features", good, tmp_path / "f"), "a-2", "failed (exit status 1)",
                    "none.wav")
    (good / "wav.scp").write_text(f"a-1 cat {audio}/a-1.wav |\na-2 true |\nb-1 cat {audio}/b-1.wav |\n")
    _one_line_error(cli("asr", "features", good, tmp_path / "f"), "a-2", "wrote no audio")
    (good / "wav.scp").write_text(f"a-1 cat {audio}/a-1.wav |\na-2 echo RIFF |\n"
                                  f"b-1 cat {audio}/b-1.wav |\n")
    _one_line_error(cli("asr", "features", good, tmp_path / "f"), "a-2", "cannot read audio from the output of")
    assert not (tmp_path / "f").exists()
    (good / "wav.scp").write_text(f"a-1 cat {audio}/a-1.wav |\na-2 |\nb-1 cat {audio}/b-1.wav |\n")
    assert any("wav.scp:2: a piped entry needs a command" in p for p in validate_datadir(good))
    _one_line_error(cli("asr", "features", good, tmp_path / "f"), "wav.scp:2")


def test_segments_of_one_piped_recording_run_its_command_once(good, tmp_path):
    from speechlang.asr.audio import read_audio
    audio = (good.parent / "audio").resolve()
    runs = tmp_path / "runs"
    segs = "".join(f"a-{i} rec 0.0{i} 0.1{i}\n" for i in range(1, 5))
    d = read_datadir(_write(tmp_path / "seg", wav_scp=f"rec echo x >> {runs}; cat {audio}/a-1.wav |\n",
                            segments=segs, text="".join(f"a-{i} ba\n" for i in range(1, 5)),
                            utt2spk="".join(f"a-{i} a\n" for i in range(1, 5))))
    whole, _ = read_audio(audio / "a-1.wav")
    for i, u in enumerate(d.utts, 1):
        assert np.array_equal(read_audio(*d.source(u))[0], whole[160 * i:160 * i + 1600])
    assert runs.read_text() == "x\n"


def test_lexicon_silence_word(tmp_path):
    from speechlang.asr.lexicon import SIL_WORD, read_lexicon
    from speechlang.errors import DataError
    f = tmp_path / "lexicon.txt"
    f.write_text("<SIL> sil\nyes Y EH S\nno N OW\n")  # Kaldi's egs/yesno
    lex = read_lexicon(f)
    assert lex.silence == "sil" and lex.words == ["yes", "no"] and lex.prons[SIL_WORD] == [("sil",)]
    for text, what in (("yes Y EH S\n", "no '!SIL SIL' line"), ("!SIL SIL SPN\nyes Y\n", "one phone"),
                       ("", "empty lexicon")):
        f.write_text(text)
        with pytest.raises(DataError, match=what):
            read_lexicon(f)

"""Kaldi data directories: reader, writer and validator (the only code that parses them).

    d = read_datadir("data/train"); problems = validate_datadir("data/train")
    kept, held = split_datadir(d, every=10, by="speaker")
    write_datadir(subset_datadir(d, held, "data/dev"), "data/dev")

A data dir holds, one record per line, key first, sorted in C order (`LC_ALL=C sort`):

    wav.scp    UTT PATH            (audio file; a relative PATH is resolved against the data
                                    dir, then against its parent, the corpus root holding audio/)
               UTT COMMAND |       (piped: a shell command writing an audio file to its
                                    standard output, run in the current directory as in Kaldi)
    text       UTT WORD WORD ...
    utt2spk    UTT SPEAKER
    spk2utt    SPEAKER UTT UTT ...  (derived from utt2spk)
    segments   UTT RECORDING START END   (optional; seconds; then wav.scp is keyed by RECORDING)

As in Kaldi's utils/validate_data_dir.sh, every utterance id must start with its speaker id
so that both sort orders agree.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import atomic_output, iter_lines

FILES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments")


@dataclass(frozen=True)
class Pipe:
    """A shell command whose standard output is an audio file (a wav.scp entry `cmd |`). It runs
    with /bin/sh in the current directory, as Kaldi runs it."""

    command: str

    def __str__(self) -> str:
        return f"{self.command} |"


@dataclass
class Segment:
    recording: str
    start: float  # seconds
    end: float  # seconds; -1 = to the end of the recording


@dataclass
class DataDir:
    """The content of one data dir. Dicts keep file order; `utts` is the sorted utterance list."""

    path: Path
    wav: dict[str, str] = field(default_factory=dict)  # utt (or recording) -> entry as written
    text: dict[str, list[str]] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)
    segments: dict[str, Segment] | None = None

    @property
    def utts(self) -> list[str]:
        return sorted(self.utt2spk, key=_c_key)

    def spk2utt(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for u in self.utts:
            out.setdefault(self.utt2spk[u], []).append(u)
        return dict(sorted(out.items(), key=lambda kv: _c_key(kv[0])))

    def audio_source(self, key: str) -> Path | Pipe:
        """The audio of a wav.scp key: a file, relative paths resolved (see the module
        docstring), or a command."""
        entry = self.wav[key]
        if entry.endswith("|"):
            return Pipe(entry[:-1].strip())
        return resolve_audio_path(self.path, entry)

    def source(self, utt: str) -> tuple[Path | Pipe, float, float]:
        """(audio file or command, start s, end s; end -1 = whole file) of an utterance."""
        if self.segments is not None:
            seg = self.segments[utt]
            return self.audio_source(seg.recording), seg.start, seg.end
        return self.audio_source(utt), 0.0, -1.0


def _c_key(s: str) -> bytes:
    """C-locale sort key (byte order of the UTF-8 encoding)."""
    return s.encode("utf-8")


def resolve_audio_path(data_dir: str | os.PathLike, path: str) -> Path:
    """Absolute paths as is; relative ones against the data dir, else against its parent."""
    p = Path(path)
    if p.is_absolute():
        return p
    base = Path(data_dir)
    first = base / p
    if first.exists():
        return first
    second = base.parent / p
    return second if second.exists() else first


def _read_table(path: Path, min_fields: int, problems: list[str] | None) -> list[tuple[str, list[str], int]]:
    """(key, rest, line number) of a key-first file; format problems raised or collected."""
    rows = []
    for lineno, line in enumerate(iter_lines(path), 1):
        fields = line.split()
        if len(fields) < min_fields:
            msg = (f"{path}:{lineno}: expected a key and {min_fields - 1} or more field(s), "
                   f"found {len(fields)}")
            if problems is None:
                raise FormatError(msg)
            problems.append(msg)
            continue
        rows.append((fields[0], fields[1:], lineno))
    return rows


def _check_sorted_unique(path: Path, rows, problems: list[str]) -> None:
    prev = None
    for key, _, lineno in rows:
        if prev is not None:
            if _c_key(key) == _c_key(prev):
                problems.append(f"{path}:{lineno}: duplicate key {key!r}")
            elif _c_key(key) < _c_key(prev):
                problems.append(f"{path}:{lineno}: not sorted in C order ({key!r} after {prev!r}); "
                                "run `speechlang asr validate --fix`")
                return
        prev = key


def _load(path: Path, problems: list[str] | None) -> DataDir:
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: no such data directory")
    d = DataDir(path)
    for name in ("wav.scp", "text", "utt2spk"):
        if not (path / name).is_file():
            msg = f"{path / name}: missing (a data dir needs wav.scp, text and utt2spk)"
            if problems is None:
                raise DataError(msg)
            problems.append(msg)
    tables = {}
    for name, nmin in (("wav.scp", 2), ("text", 1), ("utt2spk", 2), ("spk2utt", 2), ("segments", 4)):
        f = path / name
        if f.is_file():
            tables[name] = _read_table(f, nmin, problems)
            if problems is not None:
                _check_sorted_unique(f, tables[name], problems)
    for key, rest, lineno in tables.get("wav.scp", []):
        entry = " ".join(rest)
        if entry.endswith("|") and not entry[:-1].strip():
            msg = f"{path / 'wav.scp'}:{lineno}: a piped entry needs a command before the '|'"
            if problems is None:
                raise FormatError(msg)
            problems.append(msg)
        d.wav[key] = entry
    d.text = {k: rest for k, rest, _ in tables.get("text", [])}
    for key, rest, lineno in tables.get("utt2spk", []):
        if len(rest) != 1:
            msg = f"{path / 'utt2spk'}:{lineno}: expected 'UTT SPEAKER', found {len(rest) + 1} fields"
            if problems is None:
                raise FormatError(msg)
            problems.append(msg)
        d.utt2spk[key] = rest[0]
    if "segments" in tables:
        d.segments = {}
        for key, rest, lineno in tables["segments"]:
            try:
                start, end = float(rest[1]), float(rest[2])
                if len(rest) != 3 or start < 0 or (end != -1 and end <= start):
                    raise ValueError
            except ValueError:
                msg = (f"{path / 'segments'}:{lineno}: expected 'UTT RECORDING START END' with "
                       "0 <= START < END (seconds, END -1 = to the end)")
                if problems is None:
                    raise FormatError(msg) from None
                problems.append(msg)
                continue
            d.segments[key] = Segment(rest[0], start, end)
    if problems is not None and "spk2utt" in tables:
        derived = d.spk2utt()
        given = {k: rest for k, rest, _ in tables["spk2utt"]}
        if given != derived:
            problems.append(f"{path / 'spk2utt'}: does not match utt2spk; run `speechlang asr "
                            "validate --fix` to regenerate it")
    return d


def read_datadir(path: str | os.PathLike) -> DataDir:
    """Read a data dir; raise on the first structural problem (ids that do not match each other)."""
    d = _load(Path(path), None)
    problems = _consistency(d, check_audio=False)
    if problems:
        raise DataError(problems[0] + (f" (and {len(problems) - 1} more problem(s); run "
                                       "`speechlang asr validate`)" if len(problems) > 1 else ""))
    if not d.utt2spk:
        raise DataError(f"{d.path}: no utterances (utt2spk is empty)")
    return d


def _consistency(d: DataDir, check_audio: bool) -> list[str]:
    problems = []
    utts = set(d.utt2spk)
    p = d.path
    for u, spk in d.utt2spk.items():
        if not u.startswith(spk):
            problems.append(f"{p / 'utt2spk'}: speaker {spk!r} is not a prefix of utterance {u!r} "
                            "(Kaldi needs utterance ids that start with the speaker id)")
            break
    for name, keys in (("text", set(d.text)),
                       ("segments" if d.segments is not None else "wav.scp",
                        set(d.segments) if d.segments is not None else set(d.wav))):
        missing, extra = sorted(utts - keys), sorted(keys - utts)
        if missing:
            problems.append(f"{p / name}: {len(missing)} utterance(s) of utt2spk missing, e.g. "
                            f"{missing[0]!r}")
        if extra:
            problems.append(f"{p / name}: {len(extra)} utterance(s) not in utt2spk, e.g. {extra[0]!r}")
    if d.segments is not None:
        recs = {s.recording for s in d.segments.values()}
        missing = sorted(recs - set(d.wav))
        if missing:
            problems.append(f"{p / 'wav.scp'}: {len(missing)} recording(s) of segments missing, "
                            f"e.g. {missing[0]!r}")
    for u, words in d.text.items():
        if not words:
            problems.append(f"{p / 'text'}: utterance {u!r} has an empty transcript")
    if check_audio:
        for key in d.wav:
            f = d.audio_source(key)
            if isinstance(f, Pipe):
                program = (f.command.split() or [""])[0]
                if re.fullmatch(r"[\w./+-]+", program) and shutil.which(program) is None:
                    problems.append(f"{p / 'wav.scp'}: {key}: command {program!r} not found")
            elif not f.is_file():
                problems.append(f"{p / 'wav.scp'}: {key}: audio file {f} does not exist")
            elif f.stat().st_size == 0:
                problems.append(f"{p / 'wav.scp'}: {key}: audio file {f} is empty")
    return problems


def validate_datadir(path: str | os.PathLike, check_audio: bool = True) -> list[str]:
    """Every problem of a data dir as one message each (empty list: valid)."""
    problems: list[str] = []
    d = _load(Path(path), problems)
    problems.extend(_consistency(d, check_audio))
    return problems


def write_table(path: str | os.PathLike, rows: dict[str, str | list[str]]) -> None:
    """Write `KEY VALUE` lines sorted in C order, atomically."""
    with atomic_output(path) as f:
        for k in sorted(rows, key=_c_key):
            v = rows[k]
            f.write(f"{k} {' '.join(v) if isinstance(v, list) else v}\n")


def write_datadir(d: DataDir, path: str | os.PathLike) -> None:
    """Write all files of `d` into the directory `path` (which must exist), sorted."""
    path = Path(path)
    write_table(path / "wav.scp", d.wav)
    write_table(path / "text", d.text)
    write_table(path / "utt2spk", d.utt2spk)
    write_table(path / "spk2utt", d.spk2utt())
    if d.segments is not None:
        write_table(path / "segments", {u: f"{s.recording} {s.start:g} {s.end:g}"
                                         for u, s in d.segments.items()})


def fix_datadir(path: str | os.PathLike) -> list[str]:
    """Sort every file and regenerate spk2utt from utt2spk; returns what is still wrong."""
    problems: list[str] = []
    d = _load(Path(path), problems)
    if not any("missing (a data dir needs" in m for m in problems):
        write_datadir(d, path)
    return validate_datadir(path)


def subset_datadir(d: DataDir, utts: list[str], path: str | os.PathLike) -> DataDir:
    """The utterances `utts` of `d` as a data dir at `path` (not written), audio paths absolute
    (commands as written) and wav.scp limited to the files they use (Kaldi's
    utils/subset_data_dir.sh)."""
    keep = set(utts)
    out = DataDir(Path(path), utt2spk={u: s for u, s in d.utt2spk.items() if u in keep},
                  text={u: w for u, w in d.text.items() if u in keep})
    if d.segments is not None:
        out.segments = {u: s for u, s in d.segments.items() if u in keep}
        keys = {s.recording for s in out.segments.values()}
    else:
        keys = keep
    sources = {k: d.audio_source(k) for k in d.wav if k in keys}
    out.wav = {k: d.wav[k] if isinstance(src, Pipe) else str(src.resolve()) for k, src in sources.items()}
    return out


def split_datadir(d: DataDir, every: int, by: str = "utterance") -> tuple[list[str], list[str]]:
    """(kept, held out) utterance lists: the held-out set is every `every`-th utterance (by=
    "utterance") or all utterances of every `every`-th speaker (by="speaker"), counted from 1
    in C order (Kaldi's utils/subset_data_dir_tr_cv.sh, with a fixed stride instead of a
    random draw)."""
    if every < 2:
        raise ConfigError(f"--every must be >= 2, got {every}")
    if by == "utterance":
        units = [[u] for u in d.utts]
    elif by == "speaker":
        units = list(d.spk2utt().values())
    else:
        raise ConfigError(f"--by must be utterance or speaker, got {by!r}")
    if len(units) < every:
        raise DataError(f"{d.path}: {len(units)} {by}(s), fewer than --every {every}: nothing to "
                        "hold out")
    kept = [u for i, unit in enumerate(units, 1) if i % every for u in unit]
    held = [u for i, unit in enumerate(units, 1) if not i % every for u in unit]
    return kept, held


def read_table(path: str | os.PathLike, min_fields: int = 2) -> dict[str, list[str]]:
    """A key-first Kaldi table (utt2spk, text, ...) as key -> fields."""
    return {k: rest for k, rest, _ in _read_table(Path(path), min_fields, None)}

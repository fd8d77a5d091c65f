"""Czech acted speech from Fish Fillets NG in Kaldi data dirs: OUT/speech/fillets-cs/{train,test}/, audio/, lexicon.txt.

    python scripts/data/make_fillets_cs.py OUT [--game-dir /usr/share/games/fillets-ng]

Sources: Debian `fillets-ng-data` (dialog scripts, GAME/script/) and `fillets-ng-data-cs` (Czech
recordings, GAME/sound/UNIT/cs/DIALOG.ogg). Every recording of a train or test unit whose dialog
has a Czech line becomes an utterance `SPEAKER-UNIT-DIALOG` (UNIT with `/` as `_`; the speaker is
the dialog's font without `font_`); the OGG files are copied unchanged. Transcripts are normalized
(normalize_text) and kept as printed in text.orig. Skipped: no Czech line, a run-time placeholder
(`%1`), an empty normalized line. Test utterances whose normalized text occurs in train are dropped.
The lexicon is graphemic: every word of both data dirs spelled out letter by letter, plus `!SIL SIL`.

Checked against the shared copy (fillets-ng-data 1.0.1-1.1): every file identical. Not settled by
the corpus README, so taken from it as results: the split of the units (TRAIN_UNITS,
TEST_UNITS below, made there with seed 20240602; units in neither list are the held-back set and are
not written). The dialog scripts are read in both formats the game data has used
(`dialogId(...)` + `dialogStr(...)` in dialogs_cs.lua, and `dialog_addDialog(ID, "cs", ...)`), as
UTF-8 or, failing that, ISO-8859-2.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from common import c_sorted, log, write_kaldi_dir, write_lines

TRAIN_UNITS = """airplane alibaba barrel bathyscaph briefcase cabin1 cabin2 cancan cannons captain cave chest city
columns computer corals corridor crabshow creatures duckie elevator2 elk emulator ending experiments fdto floppy gems
grail hanoi hardware imprisoned keys kitchen labyrinth library linux magnet map music noground nowall party2 pearls
propulsion pyramid reactor reef share/blackjokes share/border snowman start steel tank tetris turtle ufo viking2
warcraft wc windoze""".split()
TEST_UNITS = "aztec bathroom broom cellar dump elevator1 party1 share/borejokes society stairs viking1 wreck".split()
EXPECTED = {"train": 1340, "test": 247}   # utterances, from the corpus README

_STR = r'"((?:[^"\\]|\\.)*)"'
_DIALOG_ID = re.compile(r"dialogId\(\s*" + _STR + r"\s*,\s*" + _STR + r"\s*,\s*" + _STR + r"\s*\)\s*"
                        r"dialogStr\(\s*" + _STR + r"\s*\)")
_ADD_DIALOG = re.compile(r"dialog_addDialog\(\s*" + _STR + r'\s*,\s*"cs"\s*,[^,]*,\s*' + _STR + r"\s*,\s*" + _STR
                         + r"\s*\)")
_ESCAPES = {"n": " ", "t": " ", '"': '"', "'": "'", "\\": "\\"}


def lua_string(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), s)


def normalize_text(text: str) -> str:
    """Lower case; apostrophes deleted; other punctuation and hyphens become word breaks; digits kept."""
    text = re.sub(r"['’`]", "", text.lower())
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def read_dialogs(script_dir: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """{(unit, dialog id): (font, Czech line)} from the Lua scripts; unit = the script's folder."""
    found = {}
    for path in sorted(script_dir.rglob("*.lua")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("iso-8859-2")
        unit = str(path.parent.relative_to(script_dir))
        if path.name.endswith("_cs.lua"):   # dialogs_cs.lua: Czech lines; the other languages have their own files
            for m in _DIALOG_ID.finditer(text):
                found[(unit, m.group(1))] = (m.group(2), lua_string(m.group(4)))
        for m in _ADD_DIALOG.finditer(text):
            found.setdefault((unit, m.group(1)), (m.group(2), lua_string(m.group(3))))
    return found


def lookup(dialogs: dict, unit: str, dialog: str):
    """The dialog's definition in its unit's scripts, else the one definition of that id anywhere."""
    if (unit, dialog) in dialogs:
        return dialogs[(unit, dialog)]
    hits = [v for (u, d), v in dialogs.items() if d == dialog]
    return hits[0] if len(hits) == 1 else None


def build(out: Path, game_dir: Path) -> None:
    import soundfile as sf

    dialogs = read_dialogs(game_dir / "script")
    corpus = out / "speech" / "fillets-cs"
    skipped = {"no transcript": 0, "placeholder": 0, "empty": 0}
    splits: dict[str, dict[str, dict]] = {"train": {}, "test": {}}
    for split, units in (("train", TRAIN_UNITS), ("test", TEST_UNITS)):
        for unit in units:
            for ogg in sorted((game_dir / "sound" / unit / "cs").glob("*.ogg")):
                d = lookup(dialogs, unit, ogg.stem)
                if d is None:
                    skipped["no transcript"] += 1
                    continue
                font, line = d
                if "%" in line:
                    skipped["placeholder"] += 1
                    continue
                words = normalize_text(line)
                if not words:
                    skipped["empty"] += 1
                    continue
                spk = font.removeprefix("font_")
                utt = f"{spk}-{unit.replace('/', '_')}-{ogg.stem}"
                splits[split][utt] = {"wav": f"audio/{unit}/{ogg.name}", "text": words, "orig": line.strip(),
                                      "spk": spk, "src": ogg}
    seen = {u["text"] for u in splits["train"].values()}
    dup = [k for k, u in splits["test"].items() if u["text"] in seen]
    for k in dup:
        del splits["test"][k]
    log(f"fillets-cs: skipped {skipped}; {len(dup)} test utterances dropped (sentence also in train)")
    for split, utts in splits.items():
        for u in utts.values():
            dst = corpus / u["wav"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(u["src"], dst)
            u["dur"] = sf.info(str(dst)).duration
        write_kaldi_dir(corpus / split, utts)
        write_lines(corpus / split / "text.orig", (f"{k} {utts[k]['orig']}" for k in c_sorted(utts)))
        log(f"fillets-cs/{split}: {len(utts)} utterances" + ("" if len(utts) == EXPECTED[split] else
                                                            f" (the shared copy has {EXPECTED[split]})"))
    words = {w for utts in splits.values() for u in utts.values() for w in u["text"].split()}
    write_lines(corpus / "lexicon.txt", ["!SIL SIL"] + [f"{w} {' '.join(w)}" for w in c_sorted(words)])
    gpl = Path("/usr/share/common-licenses/GPL-2")
    if gpl.is_file():
        shutil.copyfile(gpl, corpus / "COPYING")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--game-dir", type=Path, default=Path("/usr/share/games/fillets-ng"))
    a = ap.parse_args()
    build(a.out, a.game_dir)


if __name__ == "__main__":
    main()

"""scripts/make_data.sh and the corpus builders in scripts/data, offline: the tokenizer and the
chapter split on inline verses, the markup clean-ups, and a clear error when a package is missing.
(The builds themselves need Debian packages and network.)"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_data.sh"


@pytest.fixture(scope="module")
def data_scripts():
    """The builder modules (they import each other by plain name, as when run as scripts)."""
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(ROOT / "scripts" / "data"))
    mods = {name: importlib.import_module(name) for name in
            ("common", "sword_text", "make_parallel", "make_fillets_cs", "make_w2v_mix", "wikitext")}
    yield mods
    mp.undo()


def test_tokenizer_on_inline_verses(data_scripts):
    tok = data_scripts["common"].tokenize
    assert tok("In the beginning, God created the heavens and the earth.") == \
        "in the beginning , god created the heavens and the earth ."
    assert tok("God said, “Let there be light,” and there was light.") == \
        "god said , “ let there be light , ” and there was light ."
    # apostrophes inside words become ASCII and stay; one at a word's end is a token
    assert tok("God’s Spirit; don’t go to your fathers’ house—seventy-seven") == \
        "god's spirit ; don't go to your fathers ’ house — seventy - seven"
    # numbers keep inner , and . but a mixed token is split at them; letters and digits stay together
    assert tok("3,000 men, 2.5 cubits, x3.2 of the 1790s (6th).") == \
        "3,000 men , 2.5 cubits , x3 . 2 of the 1790s ( 6th ) ."
    assert tok(tok("walk’ ?” said ‘I am he!’")) == tok("walk’ ?” said ‘I am he!’")   # idempotent


def test_chapter_ids_and_split(data_scripts):
    c = data_scripts["common"]
    assert c.chapter_id("Gen", 1) == 1 and c.chapter_id("Exod", 1) == 51 and c.chapter_id("Rev", 22) == 1189
    assert c.chapter_id("Ps", 3) == 481 and c.chapter_id("Rom", 16) == 1062   # as in the shipped .ids files
    with pytest.raises(KeyError):
        c.chapter_id("Gen", 51)
    # inline verses: Gen 20 (id 20) test, Gen 10 (id 10) dev, Gen 1 train, Ruth held out whatever its id
    verses = [("Gen", 20, 1), ("Gen", 10, 3), ("Gen", 1, 1), ("Ruth", 1, 1), ("Rev", 22, 21)]
    assert [c.split_of(b, ch) for b, ch, _ in verses] == ["test", "dev", "train", "heldout", "train"]
    # every chapter, against the rule written out; the counts are those of the corpus README
    counts = {}
    cid = 0
    for book, chapters in c.CANON:
        for ch in range(1, chapters + 1):
            cid += 1
            want = "heldout" if book in ("Ruth", "Jonah", "Phlm") else \
                "test" if cid % 20 == 0 else "dev" if cid % 20 == 10 else "train"
            assert c.split_of(book, ch) == want
            counts[want] = counts.get(want, 0) + 1
    assert counts == {"train": 1063, "dev": 58, "test": 59, "heldout": 9}


def test_osis_clean_up(data_scripts):
    clean = data_scripts["sword_text"].clean_osis
    web = ('<w lemma="strong:H0430">God</w><note placement="foot">The Hebrew word ...</note><w>created</w> the '
           '<w>earth</w><note>a note</note>. &amp; <title>A heading</title>¶ it  was\tgood.')
    assert clean(web) == "God created the earth. & it was good."
    kjv = ('<title canonical="true" type="psalm">A Psalm of David.</title> <divineName>LORD</divineName>, how. '
           '<chapter eID="Rom.16"/> <title>Written to the Romans from Corinthus.</title>')
    assert clean(kjv) == "LORD, how."
    assert clean(kjv, keep_printed_titles=True) == "A Psalm of David. LORD, how. Written to the Romans from Corinthus."
    cut = data_scripts["sword_text"].cut_glossary
    assert clean(cut('saints. Amen. <chapter eID="Rev.22"/> <div sID="g1" type="glossary"/> Abaddon is')) == \
        "saints. Amen."


def test_spanish_added_words(data_scripts):
    mark = data_scripts["make_parallel"].mark_added_words
    clean = data_scripts["sword_text"].clean_osis
    assert clean(mark('preguntándo<transChange type="added">le</transChange> dijo')) == "preguntándole dijo"
    assert clean(mark('y<transChange type="added">fué</transChange>la luz')) == "y fué la luz"
    assert clean(mark('la puerta<transChange type="added">cerrada</transChange>.')) == "la puerta cerrada."
    assert clean(mark('como<transChange type="added">lo</transChange> dijo')) == "como lo dijo"


def test_fillets_text_normalization(data_scripts):
    norm = data_scripts["make_fillets_cs"].normalize_text
    assert norm("To je vrak dopravního letadla LC-10 Lemura.") == "to je vrak dopravního letadla lc 10 lemura"
    assert norm("Buď ráda. Jak by ses jinak dostala ven?") == "buď ráda jak by ses jinak dostala ven"
    assert norm("I`m cold... it's 737!") == "im cold its 737"


def test_fortunes_and_wiki_markup(data_scripts):
    w2v = data_scripts["make_w2v_mix"]
    # overstrike (a backspace deletes the character before it), bells counted against the letter
    # share and then removed, entries with under 60% letters dropped
    text = ("A b\x08bold\nfortune here.\n%\n--- /// ||| 12 34\n%\nyour whole ____\x08\x08\x08\x08BODY!\x07\n%\n"
            "Look out!  Behind you!" + "\x07" * 22 + "\n%\nAnother one\n")
    assert list(w2v.fortune_entries(text)) == ["A bold fortune here.", "your whole __BODY!", "Another one"]
    assert data_scripts["common"].tokenize("the word`error' contains `r'") == "the word'error ' contains ` r '"
    clean = data_scripts["wikitext"].clean
    page = ("'''Albedo''' ({{IPAc-en|audio=x|æ}}) is the [[diffuse reflection|diffuse reflectivity]] of a "
            "surface.<ref>{{cite web|title=x}}</ref> It is {{convert|5|km|mi}} wide [[:fr:Albédo|here]].\n\n"
            "* a list line that is dropped\n== See also ==\nThese words are in a back-matter section.\n")
    assert clean(page) == ["Albedo is the diffuse reflectivity of a surface. It is 5 km wide ."]


def _fake_dpkg(tmp_path, body: str) -> str:
    fake = tmp_path / "dpkg-query"
    fake.write_text("#!/bin/sh\n" + body + "\n")
    fake.chmod(0o755)
    return str(fake)


def _run(*args, env_extra=None):
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_script_names_missing_packages(tmp_path):
    r = _run("--check", "text", "digits", env_extra={"DPKG_QUERY": _fake_dpkg(tmp_path, "exit 1")})
    assert r.returncode == 1
    assert "missing Debian packages: sword-text-web sword-text-kjv espeak-ng flite sox" in r.stderr
    assert "sudo apt-get install sword-text-web sword-text-kjv espeak-ng flite sox" in r.stderr
    assert "Traceback" not in r.stderr


def test_script_checks_pass_when_installed(tmp_path):
    fake = _fake_dpkg(tmp_path, 'echo "install ok installed 1.0"')
    r = _run("--check", "fashion", env_extra={"DPKG_QUERY": fake})
    assert r.returncode == 0 and "installed" in r.stdout
    assert "dataset-fashion-mnist 1.0 installed; the shared copy was made with 0.0~git20200523" in r.stderr


def test_script_usage_errors(tmp_path):
    assert _run().returncode == 2
    r = _run("--check", "nonsense")
    assert r.returncode == 2 and "unknown part 'nonsense'" in r.stderr
    r = _run("--check", env_extra={"DPKG_QUERY": str(tmp_path / "no-such-program")})
    assert r.returncode == 1 and "run on Debian or Ubuntu" in r.stderr

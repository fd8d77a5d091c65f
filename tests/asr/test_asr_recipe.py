"""bench/asr.sh, the whole recipe (every default stage), on a copy of the tones corpus (its
train dir as segments of recordings, one transcript word missing from the lexicon) with an
extra test dir: its last output is one JSON line per (stage, test dir), the dev split is cut
from train, and the LM weights come from the grid."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SL = Path(sys.executable).with_name("speechlang")
STAGES = ["mono", "tri", "tri2", "sat", "dnn", "dnn_adabn", "dnn_mmi", "dnn_mmi_adabn", "dnn_int8"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bash") is None or not SL.exists(),
                                 reason="needs bash and the installed speechlang program")]


def test_recipe_reports_every_stage_for_every_test_dir(tmp_path):
    corpus = tmp_path / "tones"
    shutil.copytree(ROOT / "tests" / "fixtures" / "asr" / "tones", corpus)
    train = corpus / "train"  # as segments of recordings (wav.scp keyed by recording id)
    rows = [line.split() for line in (train / "wav.scp").read_text().splitlines()]
    (train / "wav.scp").write_text("".join(f"rec-{u} {p}\n" for u, p in rows))
    (train / "segments").write_text("".join(f"{u} rec-{u} 0 -1\n" for u, _ in rows))
    lines = (train / "text").read_text().splitlines()
    utt, said, *rest = lines[0].split()
    lines[0] = " ".join([utt, "zz", *rest])  # a word missing from the lexicon, mapped by OOV_WORD
    (train / "text").write_text("\n".join(lines) + "\n")
    extra = tmp_path / "more_test"  # a test dir elsewhere, its audio paths absolute
    extra.mkdir()
    for f in ("text", "utt2spk", "spk2utt"):
        shutil.copy(corpus / "test" / f, extra / f)
    (extra / "wav.scp").write_text("".join(
        f"{u} {corpus / p}\n" for u, p in (line.split() for line in
                                           (corpus / "test" / "wav.scp").read_text().splitlines())))
    exp = tmp_path / "exp"
    env = {**os.environ, "EXP": str(exp), "SL": str(SL), "LM_WEIGHTS": "4 8",
           "DNN_OPTS": "--epochs 2", "MMI_OPTS": "--epochs 1 --lr 1e-4 --mmi-scale 0.25",
           "OOV_WORD": said, "AUG": "--reverb 0.3;--noise-snr 20"}
    r = subprocess.run(["bash", str(ROOT / "bench" / "asr.sh"), str(corpus), str(extra)],
                       capture_output=True, text=True, env=env, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]

    lines = r.stdout.strip().splitlines()
    records = [json.loads(x) for x in lines[-2 * len(STAGES):]]
    n_words = sum(len(x.split()) - 1 for x in (corpus / "test" / "text").read_text().splitlines())
    assert [(x["stage"], x["test"]) for x in records] == [
        (s, t) for s in STAGES for t in (str(corpus / "test"), str(extra))]
    for x in records:
        assert x["n_words"] == n_words and x["lm_weight"] in (4.0, 8.0)
        assert x["wer"] == pytest.approx(100 * (x["sub"] + x["del"] + x["ins"]) / n_words, abs=0.01)
        assert x["wer"] < 20 and x["rtf"] > 0  # the tones are easy: a broken stage is not
    for a, b in zip(records[::2], records[1::2], strict=True):  # the same audio, twice
        assert a["wer"] == b["wer"] and a["lm_weight"] == b["lm_weight"]

    train = (corpus / "train" / "utt2spk").read_text().splitlines()
    dev = (exp / "data" / "dev" / "utt2spk").read_text().splitlines()
    rest = (exp / "data" / "train_nodev" / "utt2spk").read_text().splitlines()
    assert dev == train[9::10] and sorted(dev + rest) == sorted(train)

    views = json.loads((exp / "dnn" / "dnn.json").read_text())["train"]["extra_feats"]
    assert [Path(v).name for v in views] == ["train_nodev_w0.9", "train_nodev_w1.1",
                                             "train_nodev_aug0", "train_nodev_aug1"]
    aug = [json.loads((exp / "feats" / f"train_nodev_aug{i}" / "feats.json").read_text())["config"]
           for i in (0, 1)]
    assert [(c["reverb"], c["noise_snr"]) for c in aug] == [(0.3, None), (0.0, 20.0)]

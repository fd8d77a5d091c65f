"""speechlang report: the metrics table from sample records, and the curves PNG read back."""

from __future__ import annotations

import json
import math

import numpy as np

from speechlang import report
from speechlang.vision.png import read_png


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _sample_exp(root):
    _write(root / "ngram" / "test.mkn.json", json.dumps({"ppl": 123.456, "oovs": 3, "tokens": 1000}))
    # w2v eval: a nested dict and a list of named records; the list of sections is too deep
    _write(root / "w2v" / "eval.json", json.dumps({
        "vectors": "ns.bin", "words": 407,
        "analogies": {"accuracy": 42.5, "coverage": 90.0, "sections": [{"section": "s", "accuracy": 1.0}]},
        "similarity": [{"name": "wordsim353.tsv", "spearman": 0.61, "pairs": 330}]}))
    # vision eval: a confusion matrix (list of lists) is left out, per-class accuracies kept
    _write(root / "vision" / "eval.json", json.dumps({"accuracy": 81.5, "per_class": {"Bag": 90.0, "Coat": None},
                                                      "confusion": [[1, 2], [3, 4]]}))
    # JSON lines (ngram eval --per-sentence --json): the last record is the summary
    _write(root / "ngram" / "dev.json", '{"sentence": 1, "ppl": 5.0}\n{"ppl": 77.0, "sentences": 1}\n')
    _write(root / "asr" / "feats_train" / "feats.json", json.dumps({"num_frames": 999}))   # an artefact
    _write(root / "asr" / "broken.json", "")                                               # skipped
    _write(root / "asr" / ".mono.tmp" / "x.json", json.dumps({"wer": 1.0}))               # hidden: skipped


def test_flatten_depth_and_names():
    rec = {"a": 1, "b": {"c": 2.5, "d": {"e": 3}}, "f": [{"name": "x", "g": 4}], "h": [1, 2], "s": "t",
           "t": True}
    assert report.flatten(rec) == [("a", 1.0), ("b.c", 2.5), ("f.x.g", 4.0)]


def test_table_holds_the_sample_metrics(tmp_path):
    _sample_exp(tmp_path)
    rows = report.collect_metrics(tmp_path)
    got = {(r.run, r.metric): r.value for r in rows}
    assert got[("ngram/test.mkn", "ppl")] == 123.456
    assert got[("ngram/test.mkn", "oovs")] == 3
    assert got[("ngram/dev", "ppl")] == 77.0 and ("ngram/dev", "sentence") not in got
    assert got[("w2v/eval", "analogies.accuracy")] == 42.5
    assert got[("w2v/eval", "similarity.wordsim353.tsv.spearman")] == 0.61
    assert got[("vision/eval", "per_class.Bag")] == 90.0
    assert not any("confusion" in m or "sections" in m for _, m in got)
    assert not any(run.startswith("asr") for run, _ in got)   # artefact, empty and hidden files
    table = report.format_table(rows)
    assert "| ngram/test.mkn | ppl | 123.5 |" in table
    assert "| ngram/test.mkn | tokens | 1000 |" in table
    assert "| w2v/eval | analogies.coverage | 90 |" in table
    assert table.count("\n|") == len(rows) + 2   # header, rule, one line per metric


def _sample_curves(root):
    # a shared-loop run (train and dev loss, BLEU) and a w2v run (--metrics file)
    recs = [{"epoch": e, "step": 10 * e, "train_loss": 3.0 / e, "dev_loss": 3.5 / e + 0.2, "bleu": 5.0 * e,
             "lr": 1e-3} for e in range(1, 6)]
    _write(root / "nmt" / "tf" / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in recs))
    _write(root / "w2v" / "ns.metrics.jsonl", "".join(json.dumps({"epoch": e, "loss": 0.5 - 0.05 * e}) + "\n"
                                                      for e in range(1, 4)))
    return recs


def test_panels_from_metrics_files(tmp_path):
    _sample_curves(tmp_path)
    panels = report.collect_panels(tmp_path)
    assert [p.title for p in panels] == ["nmt/tf loss", "nmt/tf valid", "w2v/ns loss"]
    assert [c.name for c in panels[0].curves] == ["dev_loss", "train_loss"]
    assert [c.name for c in panels[1].curves] == ["bleu"]
    np.testing.assert_allclose(panels[0].curves[1].y, [3.0 / e for e in range(1, 6)])
    assert panels[0].xlabel == "epoch"


def test_cli_writes_table_and_png_that_decodes(cli, tmp_path):
    _sample_exp(tmp_path)
    _sample_curves(tmp_path)
    md, png = tmp_path / "report.md", tmp_path / "curves.png"
    r = cli("report", tmp_path, "-O", md, "--png", png)
    assert r.exit_code == 0, r.stderr
    assert "| ngram/test.mkn | ppl | 123.5 |" in md.read_text()
    img = read_png(png)
    panels = report.collect_panels(tmp_path)   # 3 panels: 2 columns, 2 rows
    assert img.shape == (2 * report.PANEL_H, 2 * report.PANEL_W, 3)
    bg = np.array(report.BACKGROUND, np.uint8)
    for k, panel in enumerate(panels):
        r0, c0 = divmod(k, 2)
        sub = img[r0 * report.PANEL_H:(r0 + 1) * report.PANEL_H, c0 * report.PANEL_W:(c0 + 1) * report.PANEL_W]
        limits = report.data_limits(panel.curves)
        for i, c in enumerate(panel.curves):
            colour = np.array(report.COLOURS[i], np.uint8)
            px, py = report.to_pixels(c.x, c.y, limits)
            # every data point (a marker) is in the curve's colour, and so is the line between two
            # points (within a pixel of the exact middle of each segment)
            for x, y in zip(np.rint(px).astype(int), np.rint(py).astype(int), strict=True):
                assert (sub[y, x] == colour).all(), (panel.title, c.name, x, y, sub[y, x])
            mx, my = np.rint((px[:-1] + px[1:]) / 2).astype(int), np.rint((py[:-1] + py[1:]) / 2).astype(int)
            for x, y in zip(mx, my, strict=True):
                assert (sub[y - 1:y + 2, x - 1:x + 2] == colour).all(-1).any(), (panel.title, c.name, x, y)
        # the plot area is mostly background, and the axes are drawn
        area = sub[report.MARGIN_T:report.PANEL_H - report.MARGIN_B, report.MARGIN_L:report.PANEL_W - report.MARGIN_R]
        assert (area == bg).all(-1).mean() > 0.8
        assert (sub[report.PANEL_H - report.MARGIN_B - 1, report.MARGIN_L:report.PANEL_W - report.MARGIN_R] == 0).all()
    # the fourth grid cell has no panel: all background
    assert (img[report.PANEL_H:, report.PANEL_W:] == bg).all()


def test_png_without_curves_and_missing_folder(cli, tmp_path):
    _sample_exp(tmp_path)
    png = tmp_path / "curves.png"
    r = cli("report", tmp_path, "--png", png)
    assert r.exit_code == 0 and "| w2v/eval |" in r.stdout
    assert read_png(png).shape == (report.PANEL_H, report.PANEL_W, 3)
    r = cli("report", tmp_path / "nope")
    assert r.exit_code == 1 and "no such experiment folder" in r.stderr
    assert r.stderr.count("\n") == 1


def test_nice_ticks_cover_the_range_with_round_steps():
    rng = np.random.default_rng(0)
    for _ in range(200):
        lo = float(rng.uniform(-100, 100))
        hi = lo + float(10 ** rng.uniform(-3, 3))
        t = report.nice_ticks(lo, hi)
        step = t[1] - t[0]
        mant = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mant - m) for m in (1, 2, 5, 10)) < 1e-6
        assert lo - 1e-9 * abs(hi) <= t[0] < lo + step and hi - step < t[-1] <= hi + 1e-9 * abs(hi)
        assert 3 <= len(t) <= 11
    assert list(report.nice_ticks(1, 3, integer=True)) == [1, 2, 3]


def test_font_glyphs_are_distinct_and_drawn():
    glyphs = {k: v for k, v in report.FONT.items() if k != " "}
    assert len(set(glyphs.values())) == len(glyphs)
    for ch, bits in glyphs.items():
        img = np.full((10, 6, 3), 255, np.uint8)
        report.draw_text(img, ch, 0, 0)
        ink = (img[..., 0] == 0)[::2, ::2]   # back to the 3x5 bitmap (scale 2)
        want = np.array([[int(r) >> (2 - b) & 1 for b in range(3)] for r in bits], bool)
        assert (ink == want).all(), ch

"""Experiment reports: the metric records of an experiment folder in one markdown table, and the
training curves of its metrics.jsonl files drawn into a PNG.

Metric records are the `--json` outputs that recipes save as `*.json` files; files that describe
models and data (ARTEFACTS: feats.json, model.json, config.json, ...) are skipped. Curves come
from `metrics.jsonl` / `*.metrics.jsonl` files (one JSON object per epoch, as the shared training
loop and `w2v train --metrics` write them). Plots are rasterised here with numpy (axes, ticks, one
colour per curve, a legend, text in a built-in 3x5 pixel font) and saved with the PNG writer of
speechlang.vision, so no plotting library is needed.

    rows = collect_metrics("exp"); text = format_table(rows)
    write_png("exp/curves.png", render_panels(collect_panels("exp")))
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechlang import log
from speechlang.errors import DataError
from speechlang.io import atomic_output, check_writable

# JSON files that describe models, features, alignments or prepared data rather than results.
ARTEFACTS = frozenset({"ali.json", "config.json", "dnn.json", "feats.json", "meta.json", "model.json",
                       "tree.json"})
MAX_DEPTH = 2      # metric keys nest at most this deep (`analogies.accuracy`); list indices do not count
LOSS_KEYS = ("loss",)                                      # a key ending in one of these: the loss panel
VALID_KEYS = ("acc", "bleu", "chrf", "wer", "spearman")     # a key containing one of these: the valid panel


@dataclass(frozen=True)
class MetricRow:
    run: str      # the record's file, relative to the experiment folder, without `.json`
    metric: str   # dotted key path, e.g. `analogies.accuracy`, `similarity.wordsim353.tsv.spearman`
    value: float


def _walk_files(root: Path, match) -> list[Path]:
    """Files under `root` whose name satisfies `match`, sorted; hidden (temporary) folders skipped."""
    def unreadable(e: OSError) -> None:  # os.walk would skip it silently
        if Path(e.filename) == root:
            raise DataError(f"{root}: cannot read the experiment folder ({e.strerror})")
        log.warn(f"{e.filename}: skipped ({e.strerror})")

    found = []
    for d, dirs, files in os.walk(root, onerror=unreadable):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        found += [Path(d) / f for f in sorted(files) if match(f)]
    return found


def _read_record(path: Path) -> dict | None:
    """The JSON object in `path`; for JSON lines, the last line (commands print their summary last)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        log.warn(f"{path}: skipped ({e})")
        return None
    if not text:
        log.warn(f"{path}: skipped (empty)")
        return None
    try:
        rec = json.loads(text)
    except json.JSONDecodeError:
        try:
            rec = json.loads(text.splitlines()[-1])
        except json.JSONDecodeError:
            log.warn(f"{path}: skipped (not JSON)")
            return None
    return rec if isinstance(rec, dict) else None


def flatten(record: dict, prefix: str = "", depth: int = 1) -> list[tuple[str, float]]:
    """Numeric leaves of a metric record as (dotted key, value), down to MAX_DEPTH levels of dicts.

    Lists of records count as one level, each element named by its `name` field or its index
    (`similarity.simlex999.txt.spearman`); lists of numbers (confusion matrices) are left out.
    """
    out = []
    for key, v in record.items():
        name = f"{prefix}{key}"
        if isinstance(v, bool) or v is None or isinstance(v, str):
            continue
        if isinstance(v, (int, float)):
            out.append((name, float(v)))
        elif isinstance(v, dict) and depth < MAX_DEPTH:
            out += flatten(v, f"{name}.", depth + 1)
        elif isinstance(v, list) and depth < MAX_DEPTH and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                label = x.get("name", i)
                out += flatten({k: y for k, y in x.items() if k != "name"}, f"{name}.{label}.", depth + 1)
    return out


def collect_metrics(root: str | os.PathLike) -> list[MetricRow]:
    """Every numeric metric of every `*.json` record under `root` (artefact files skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such experiment folder")
    rows = []
    for path in _walk_files(root, lambda f: f.endswith(".json") and f not in ARTEFACTS):
        rec = _read_record(path)
        if rec is None:
            continue
        run = str(path.relative_to(root))[: -len(".json")]
        rows += [MetricRow(run, k, v) for k, v in flatten(rec)]
    return rows


def format_value(v: float) -> str:
    """Integers as integers, other numbers with 4 significant digits (`12.35`, `0.0001234`)."""
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def format_table(rows: list[MetricRow], title: str = "Metrics") -> str:
    """A markdown table `| run | metric | value |`, in file order."""
    lines = [f"# {title}", "", "| run | metric | value |", "|---|---|---:|"]
    lines += [f"| {r.run} | {r.metric} | {format_value(r.value)} |" for r in rows]
    if not rows:
        lines.append("| (no metric records found) | | |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Curves


@dataclass
class Curve:
    name: str
    x: np.ndarray   # (n,) float64, e.g. epochs
    y: np.ndarray   # (n,) float64; NaN breaks the line


@dataclass
class Panel:
    title: str
    xlabel: str
    curves: list[Curve] = field(default_factory=list)


def _is_loss(key: str) -> bool:
    return key.endswith(LOSS_KEYS)


def _is_valid(key: str) -> bool:
    return not _is_loss(key) and any(k in key for k in VALID_KEYS)


def panels_from_records(run: str, records: list[dict]) -> list[Panel]:
    """A `loss` panel (keys ending in loss) and a `valid` panel (accuracy, BLEU, chrF, WER,
    Spearman keys) of one run's per-epoch records; x is `epoch`, else `step`, else the line number."""
    xkey = "epoch" if all("epoch" in r for r in records) else "step" if all("step" in r for r in records) else ""
    x = np.array([r[xkey] if xkey else i + 1 for i, r in enumerate(records)], np.float64)
    keys = sorted({k for r in records for k, v in r.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != xkey})
    panels = []
    for kind, pick in (("loss", _is_loss), ("valid", _is_valid)):
        curves = [Curve(k, x, np.array([float(r.get(k, math.nan)) for r in records], np.float64))
                  for k in keys if pick(k)]
        curves = [c for c in curves if np.isfinite(c.y).any()]
        if curves:
            panels.append(Panel(f"{run} {kind}", xkey or "record", curves))
    return panels


def collect_panels(root: str | os.PathLike) -> list[Panel]:
    """The panels of every `metrics.jsonl` / `*.metrics.jsonl` under `root`. The run is named by the
    folder of a metrics.jsonl (`nmt/tf`) or by the file (`w2v/ns` for w2v/ns.metrics.jsonl)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such experiment folder")
    panels = []
    for path in _walk_files(root, lambda f: f == "metrics.jsonl" or f.endswith(".metrics.jsonl")):
        records = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                log.warn(f"{path}:{i}: not JSON, line skipped")
                continue
            if isinstance(rec, dict):
                records.append(rec)
        rel = path.relative_to(root)
        run = str(rel.parent) if path.name == "metrics.jsonl" else str(rel)[: -len(".metrics.jsonl")]
        if records:
            panels += panels_from_records(run if run != "." else root.name, records)
    return panels


# ---------------------------------------------------------------------------------------------
# A small rasteriser: a 3x5 pixel font, lines, ticks, panels.

# 3x5 bitmaps, one row of 3 bits per character of the string, top to bottom (the digits are
# those of the confusion-matrix picture in speechlang.vision.evaluate). Lower case is drawn as
# upper case; a character without a glyph as `?`.
FONT = {
    "0": "75557", "1": "26227", "2": "71747", "3": "71717", "4": "55711",
    "5": "74717", "6": "74757", "7": "71111", "8": "75757", "9": "75717",
    "A": "25755", "B": "65656", "C": "34443", "D": "65556", "E": "74647", "F": "74644",
    "G": "34553", "H": "55755", "I": "72227", "J": "11152", "K": "55655", "L": "44447",
    "M": "57755", "N": "65555", "O": "25552", "P": "65644", "Q": "25563", "R": "65655",
    "S": "34216", "T": "72222", "U": "55557", "V": "55552", "W": "55775", "X": "55255",
    "Y": "55222", "Z": "71247",
    " ": "00000", ".": "00002", ",": "00024", ":": "02020", "-": "00700", "_": "00007",
    "+": "02720", "=": "07070", "/": "11244", "%": "51245", "(": "24442", ")": "21112",
    "?": "71202",
}
BACKGROUND = (255, 255, 255)
AXIS = (0, 0, 0)
GRID = (225, 225, 225)
# one colour per curve (the matplotlib "tab10" cycle)
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
SCALE = 2                          # font pixels per bitmap pixel
ADVANCE = 4 * SCALE                # horizontal pixels per character
PANEL_W, PANEL_H = 480, 300        # pixels per panel
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 16, 48, 36   # plot area inside a panel
COLUMNS = 2                        # panels per row


def text_width(text: str) -> int:
    return max(len(text) * ADVANCE - SCALE, 0)


def draw_text(img: np.ndarray, text: str, x: int, y: int, colour=AXIS, scale: int = SCALE) -> None:
    """Draw `text` with its top-left corner at (x, y) in pixels, clipped to the image."""
    h, w = img.shape[:2]
    for k, ch in enumerate(text.upper()):
        rows = FONT.get(ch, FONT["?"])
        for r, bits in enumerate(rows):
            for b in range(3):
                if int(bits) >> (2 - b) & 1:
                    y0, x0 = y + r * scale, x + (4 * k + b) * scale
                    if 0 <= y0 and y0 + scale <= h and 0 <= x0 and x0 + scale <= w:
                        img[y0:y0 + scale, x0:x0 + scale] = colour


def draw_line(img: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], colour, width: int = 2) -> None:
    """A line between two (x, y) pixel positions, `width` pixels thick, clipped to the image."""
    h, w = img.shape[:2]
    n = int(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]))) + 2
    xs = np.rint(np.linspace(p0[0], p1[0], n)).astype(np.int64)
    ys = np.rint(np.linspace(p0[1], p1[1], n)).astype(np.int64)
    lo = -(width // 2)
    for dy in range(lo, lo + width):
        for dx in range(lo, lo + width):
            yy, xx = ys + dy, xs + dx
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            img[yy[ok], xx[ok]] = colour


def fill_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour) -> None:
    """Fill the pixels x0 <= x < x1, y0 <= y < y1 (clipped)."""
    h, w = img.shape[:2]
    img[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)] = colour


def nice_ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> np.ndarray:
    """Tick values in [lo, hi] at a 1-2-5 step, the largest not above (hi - lo) / (target - 1)."""
    if not hi > lo:
        return np.array([lo])
    raw = (hi - lo) / max(target - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = max(m * mag for m in (1, 2, 5) if m * mag <= raw * (1 + 1e-9))   # 4 to 11 ticks
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return np.round(ticks / step) * step   # no 0.30000000000000004


def data_limits(curves: list[Curve]) -> tuple[float, float, float, float]:
    """(x_lo, x_hi, y_lo, y_hi) of the finite points, padded where a range is empty."""
    xs = np.concatenate([c.x[np.isfinite(c.y)] for c in curves])
    ys = np.concatenate([c.y[np.isfinite(c.y)] for c in curves])
    x_lo, x_hi = float(xs.min()), float(xs.max())
    y_lo, y_hi = float(ys.min()), float(ys.max())
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_hi == y_lo:
        pad = abs(y_lo) * 0.1 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    pad = (y_hi - y_lo) * 0.05
    return x_lo, x_hi, y_lo - pad, y_hi + pad


def to_pixels(x: np.ndarray, y: np.ndarray, limits: tuple[float, float, float, float],
              width: int = PANEL_W, height: int = PANEL_H) -> tuple[np.ndarray, np.ndarray]:
    """Data coordinates -> (column, row) pixel positions inside a panel's plot area."""
    x_lo, x_hi, y_lo, y_hi = limits
    left, right, top, bottom = MARGIN_L, width - MARGIN_R - 1, MARGIN_T, height - MARGIN_B - 1
    px = left + (np.asarray(x, np.float64) - x_lo) / (x_hi - x_lo) * (right - left)
    py = bottom - (np.asarray(y, np.float64) - y_lo) / (y_hi - y_lo) * (bottom - top)
    return px, py


def _fit(text: str, width: int) -> str:
    chars = max(width // ADVANCE, 1)
    return text if len(text) <= chars else text[: chars - 1] + "."


def render_panel(panel: Panel, width: int = PANEL_W, height: int = PANEL_H) -> np.ndarray:
    """One line plot as a (height, width, 3) uint8 image: title, legend, axes, ticks, curves."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = BACKGROUND
    left, right, top, bottom = MARGIN_L, width - MARGIN_R - 1, MARGIN_T, height - MARGIN_B - 1
    draw_text(img, _fit(panel.title, width - 16), 8, 6)
    x = 8   # legend: one swatch and name per curve, in the top margin so it never hides data
    for i, c in enumerate(panel.curves):
        label = _fit(c.name, width - x - 8 - 16)
        fill_rect(img, x, 26, x + 12, 30, COLOURS[i % len(COLOURS)])
        draw_text(img, label, x + 16, 23)
        x += 16 + text_width(label) + 16
    if not panel.curves:
        draw_text(img, "no data", left + 8, top + 8)
        return img
    limits = data_limits(panel.curves)
    x_lo, x_hi, y_lo, y_hi = limits
    integer_x = all(np.all(c.x == np.round(c.x)) for c in panel.curves)
    for t in nice_ticks(y_lo, y_hi):
        _, py = to_pixels(np.array([x_lo]), np.array([t]), limits, width, height)
        row = int(round(py[0]))
        if top <= row <= bottom:
            img[row, left:right + 1] = GRID
            img[row, left - 4:left] = AXIS
            label = format_value(float(t))
            draw_text(img, label, left - 6 - text_width(label), row - 5)
    for t in nice_ticks(x_lo, x_hi, 6, integer=integer_x):
        px, _ = to_pixels(np.array([t]), np.array([y_lo]), limits, width, height)
        col = int(round(px[0]))
        if left <= col <= right:
            img[top:bottom + 1, col] = GRID
            img[bottom + 1:bottom + 5, col] = AXIS
            label = format_value(float(t))
            draw_text(img, label, col - text_width(label) // 2, bottom + 8)
    draw_text(img, panel.xlabel, (left + right - text_width(panel.xlabel)) // 2, bottom + 22)
    img[top:bottom + 1, left] = AXIS
    img[bottom, left:right + 1] = AXIS
    for i, c in enumerate(panel.curves):
        colour = COLOURS[i % len(COLOURS)]
        px, py = to_pixels(c.x, c.y, limits, width, height)
        ok = np.isfinite(c.y)
        for j in range(len(px) - 1):
            if ok[j] and ok[j + 1]:
                draw_line(img, (px[j], py[j]), (px[j + 1], py[j + 1]), colour)
        for j in np.flatnonzero(ok):   # a marker on every point (a one-epoch run is a dot)
            cx, cy = int(round(px[j])), int(round(py[j]))
            fill_rect(img, cx - 2, cy - 2, cx + 3, cy + 3, colour)
    return img


def render_panels(panels: list[Panel], columns: int = COLUMNS) -> np.ndarray:
    """Panels in a grid, `columns` per row -> (rows * PANEL_H, columns * PANEL_W, 3) uint8."""
    if not panels:
        panels = [Panel("no metrics.jsonl files found", "", [])]
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    img = np.empty((rows * PANEL_H, cols * PANEL_W, 3), np.uint8)
    img[:] = BACKGROUND
    for k, p in enumerate(panels):
        r, c = divmod(k, cols)
        img[r * PANEL_H:(r + 1) * PANEL_H, c * PANEL_W:(c + 1) * PANEL_W] = render_panel(p)
    return img


def write_report(root: str | os.PathLike, output: str | os.PathLike = "-",
                 png: str | os.PathLike | None = None) -> dict:
    """Write the metrics table of `root` (markdown, '-' = stdout) and, with `png`, its curves."""
    for path in (output, png):
        if path is not None:
            check_writable(path)
    rows = collect_metrics(root)
    with atomic_output(output) as f:
        f.write(format_table(rows, f"Metrics under {Path(root).name or root}"))
    summary = {"records": len({r.run for r in rows}), "metrics": len(rows)}
    if png is not None:
        from speechlang.vision.png import write_png

        panels = collect_panels(root)
        write_png(png, render_panels(panels))
        summary["panels"] = len(panels)
    return summary

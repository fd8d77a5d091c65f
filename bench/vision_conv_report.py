"""Summary of bench/vision_conv.sh: a Markdown table, one row per model (train and eval JSON).

    python bench/vision_conv_report.py OUT lenet lenet-local lenet-tiled
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(out: Path, name: str) -> dict:
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() and p.stat().st_size else {}


def pct(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def main() -> None:
    out, archs = Path(sys.argv[1]), sys.argv[2:]
    print("| model | params | epochs | best val acc | test acc | train images/s | train minutes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for arch in archs:
        tr, ev = load(out, arch), load(out, f"{arch}.eval")
        if not tr:
            print(f"| {arch} | (not run) | | | | | |")
            continue
        print(f"| {arch} | {tr['params']:,} | {tr['epochs']} | {pct(tr['best_val_acc'])} | {pct(ev.get('accuracy'))} "
              f"| {tr['images_per_s']:.0f} | {tr['train_minutes']:.1f} |")


if __name__ == "__main__":
    main()

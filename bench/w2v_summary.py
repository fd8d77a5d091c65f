"""Markdown tables from the files bench/w2v.sh leaves in its output folder.

usage: python bench/w2v_summary.py OUT ns hs -- 2 1   (losses, then thread counts, highest first)
"""

import json
import sys
from pathlib import Path


def load_ours(out: Path, tag: str) -> dict:
    recs = [json.loads(x) for x in (out / f"ours-{tag}.jsonl").read_text().splitlines()]
    words = sum(r["words"] for r in recs)
    secs = sum(r["seconds"] for r in recs)
    cpu = sum(r.get("cpu_seconds", float("nan")) for r in recs)
    wall = json.loads((out / f"ours-{tag}.wall.json").read_text())["total_s"]
    return {"words_per_s": words / secs, "train_s": secs, "total_s": wall, "loss": recs[-1]["loss"],
            "words_per_cpu_s": words / cpu}


def main() -> None:
    out = Path(sys.argv[1])
    sep = sys.argv.index("--")
    losses, threads = sys.argv[2:sep], [int(t) for t in sys.argv[sep + 1:]]
    print("| loss | threads | speechlang words/s | gensim words/s | ratio | speechlang words/CPU-s "
          "| gensim words/CPU-s | ratio | speechlang train s (total s) | gensim train s (total s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    speed = {}
    for loss in losses:
        for t in threads:
            if not (out / f"gensim-{loss}-t{t}.json").exists():
                continue
            o = load_ours(out, f"{loss}-t{t}")
            g = json.loads((out / f"gensim-{loss}-t{t}.json").read_text())
            speed[loss, t] = o["words_per_s"], g["words_per_s"]
            print(f"| {loss} | {t} | {o['words_per_s']:,.0f} | {g['words_per_s']:,.0f} | "
                  f"{o['words_per_s'] / g['words_per_s']:.2f}x | {o['words_per_cpu_s']:,.0f} | "
                  f"{g.get('words_per_cpu_s', float('nan')):,.0f} | "
                  f"{o['words_per_cpu_s'] / g.get('words_per_cpu_s', float('nan')):.2f}x | "
                  f"{o['train_s']:.1f} ({o['total_s']:.1f}) | "
                  f"{g['train_s']:.1f} ({g['total_s']:.1f}) |")
    if len(threads) > 1:
        hi, lo = max(threads), min(threads)
        print(f"\n| loss | speechlang {lo}->{hi} threads | gensim {lo}->{hi} threads |\n|---|---|---|")
        for loss in losses:
            if (loss, hi) not in speed or (loss, lo) not in speed:
                continue
            print(f"| {loss} | {speed[loss, hi][0] / speed[loss, lo][0]:.2f}x | "
                  f"{speed[loss, hi][1] / speed[loss, lo][1]:.2f}x |")
    print("\n| loss | model | analogy acc. % (covered/questions) | wordsim353 rho (pairs) "
          "| simlex999 rho (pairs) | final loss |\n|---|---|---|---|---|---|")
    for loss in losses:
        for tool in ("ours", "gensim"):
            if not (out / f"{tool}-{loss}-eval.json").exists():
                continue
            e = json.loads((out / f"{tool}-{loss}-eval.json").read_text())
            an = e["analogies"]
            sims = {s["name"]: s for s in e["similarity"]}
            ws, sl = sims["wordsim353.tsv"], sims["simlex999.txt"]
            final = "-"
            if tool == "ours":
                final = f"{load_ours(out, f'{loss}-t{max(threads)}')['loss']:.4f}"
            print(f"| {loss} | {'speechlang' if tool == 'ours' else 'gensim'} | {an['accuracy']:.2f} "
                  f"({an['total']}/{an['questions']}) | {ws['spearman']:.4f} ({ws['pairs']}/{ws['total']}) | "
                  f"{sl['spearman']:.4f} ({sl['pairs']}/{sl['total']}) | {final} |")


if __name__ == "__main__":
    main()

"""Tables of bench/scaleout.sh's results (markdown, for bench/RESULTS.md), then one JSON line.

    .venv/bin/python bench/scaleout_report.py bench/out/scaleout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(out: Path, name: str) -> dict | None:
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() and p.stat().st_size else None


def lines(out: Path, name: str) -> list[dict]:
    p = out / f"{name}.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.is_file() else []


def fmt(v, digits=1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def main(out: Path) -> None:
    rec: dict = {}
    print("| trainer (model) | items per step and process | 1 process | 2 processes | speedup | efficiency |")
    print("|---|---|---|---|---|---|")
    for t in ("vision", "nmt", "asr-dnn"):
        b = load(out, f"bench-{t}")
        if b:
            rec[f"bench_{t}"] = {k: b[k] for k in ("throughput_1", "throughput_n", "efficiency")}
            u = f"{b['unit']}/s"
            print(f"| {t} ({b['model']}) | {b['batch_per_proc']} {b['batch_unit']} | {fmt(b['throughput_1'])} {u} | "
                  f"{fmt(b['throughput_n'])} {u} | {b['speedup']:.2f} | {b['efficiency']:.2f} |")

    print("\n| LeNet, Fashion-MNIST | epochs | images/s | minutes | held-out acc. % | test acc. % |")
    print("|---|---|---|---|---|---|")
    for name, label in (("vision-1proc", "1 process x 2 threads, batch 128"),
                        ("vision-2proc", "2 processes x 1 thread (torchrun), batch 2 x 64")):
        s, e = load(out, name), load(out, f"{name}.eval")
        if s:
            rec[name] = {"images_per_s": s["images_per_s"], "test_acc": e and e["accuracy"]}
            print(f"| {label} | {s['epochs']} | {fmt(s['images_per_s'])} | {fmt(s['train_minutes'], 2)} | "
                  f"{fmt(s['val_acc'], 2)} | {fmt(e and e['accuracy'], 2)} |")

    print("\n| same time budget | epochs reached | items/s | quality |")
    print("|---|---|---|---|")
    for name, label in (("lenet-sync", "LeNet, synchronous (torchrun 2 x 1)"),
                        ("lenet-hogwild", "LeNet, Hogwild (2 workers)")):
        s, e = load(out, name), load(out, f"{name}.eval")
        if s:
            rec[name] = {"epochs": s["epochs"], "images_per_s": s["images_per_s"], "test_acc": e and e["accuracy"]}
            print(f"| {label} | {s['epochs']} | {fmt(s['images_per_s'])} images/s | "
                  f"test acc. {fmt(e and e['accuracy'], 2)} % |")
    for name, label in (("w2v-sync", "word2vec torch, synchronous (torchrun 2 x 1)"),
                        ("w2v-hogwild", "word2vec torch, Hogwild (2 workers)")):
        h, e = lines(out, name), load(out, f"{name}.eval")
        if h:
            sim = e["similarity"][0]["spearman"] if e and e["similarity"] else None
            ana = e["analogies"]["accuracy"] if e and e.get("analogies") else None
            words = sum(r["words_per_s"] * r["seconds"] for r in h) / sum(r["seconds"] for r in h)
            rec[name] = {"epochs": len(h), "words_per_s": words, "wordsim_spearman": sim, "analogy_acc": ana}
            print(f"| {label} | {len(h)} | {fmt(words, 0)} words/s | WordSim-353 rho {fmt(sim, 3)}, "
                  f"analogies {fmt(ana, 2)} % |")

    from speechlang.accel.compress import count_params
    from speechlang.accel.moe import linear_macs
    from speechlang.vision.registry import build_model

    print("\n| LeNet head | parameters | linear MACs per image | images/s | epochs | test acc. % |")
    print("|---|---|---|---|---|---|")
    for name, opts, label in (("lenet-dense", [], "dense (256 hidden)"),
                              ("lenet-moe", ["moe_experts=4"], "hard MoE, 4 experts")):
        s, e = load(out, name), load(out, f"{name}.eval")
        m = build_model("lenet", in_channels=1, num_classes=10, image_size=(28, 28), overrides=opts)
        if s:
            rec[name] = {"params": count_params(m), "linear_macs": linear_macs(m), "test_acc": e and e["accuracy"]}
            print(f"| {label} | {count_params(m):,} | {linear_macs(m):,} | {fmt(s['images_per_s'])} | "
                  f"{s['epochs']} | {fmt(e and e['accuracy'], 2)} |")
    print(json.dumps(rec, sort_keys=True))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/scaleout"))

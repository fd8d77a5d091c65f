"""Summary of bench/vision.sh: a table on stderr, then one JSON line per model on stdout
(float residual net, pruned 80% + int8, distilled student), last."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(out: Path, name: str) -> dict:
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() and p.stat().st_size else {}


def minutes(out: Path, name: str) -> float | None:
    p = out / f"{name}.minutes"
    return round(float(p.read_text()), 2) if p.is_file() else None


def main() -> None:
    out = Path(sys.argv[1])
    res, res_eval, lenet, lenet_eval = (load(out, n) for n in ("resnet", "resnet.eval", "lenet", "lenet.eval"))
    tta, tta_eval = load(out, "resnet.tta"), load(out, "resnet.eval.tta")  # chosen on validation data
    speed, pruned, distilled = load(out, "speed"), load(out, "pruned"), load(out, "distilled")
    alone_eval, cascade = load(out, "student_alone.eval"), load(out, "cascade")
    log = sys.stderr
    print(f"lenet: test accuracy {lenet_eval.get('accuracy')}, train minutes {lenet.get('train_minutes')}, "
          f"params {lenet.get('params')}", file=log)
    print(f"resnet: test accuracy {res_eval.get('accuracy')}, train minutes {res.get('train_minutes')}, "
          f"best validation accuracy {res.get('best_val_acc')}", file=log)
    if tta:
        print(f"resnet with --tta: validation {tta['val_acc_tta']:.2f} vs {tta['val_acc']:.2f} without; "
              f"test {tta_eval.get('accuracy', 'not run (not chosen)')}", file=log)
    if speed:
        print(f"loop images/s: speechlang {speed['speechlang_images_per_s']:.1f}, plain "
              f"{speed['plain_images_per_s']:.1f}, ratio {speed['ratio']:.3f}", file=log)
    if pruned:
        b, a = pruned["before"], pruned["after"]
        print(f"pruned+int8: accuracy {b['accuracy']:.2f} -> {a['accuracy']:.2f}; size ratio "
              f"{a['size_bytes'] / b['size_bytes']:.3f} (zlib {a['size_gz_bytes'] / b['size_gz_bytes']:.3f}); "
              f"latency ratio {a['cpu_ms_per_image'] / b['cpu_ms_per_image']:.3f}", file=log)
    if distilled:
        print(f"student: distilled {distilled['after']['accuracy']:.2f} vs alone {alone_eval.get('accuracy')}",
              file=log)
    if cascade:
        print(f"cascade lenet->resnet @0.9: accuracy {cascade['accuracy']:.2f}, share to large "
              f"{cascade['share_large']:.1f}%", file=log)
    recs = [{"model": "resnet-float", "accuracy": tta_eval.get("accuracy", res_eval.get("accuracy")),
             "tta": bool(tta_eval), "accuracy_without_tta": res_eval.get("accuracy"),
             "train_minutes": res.get("train_minutes"), "params": res.get("params")}]
    if pruned:
        a = pruned["after"]
        recs.append({"model": "resnet-pruned80-int8", "accuracy": a["accuracy"],
                     "train_minutes": round((res.get("train_minutes") or 0) + (pruned["finetune"] or {}).get(
                         "train_minutes", 0), 3), "params": a["params"], "sparsity": a["sparsity"],
                     "size_ratio": a["size_bytes"] / pruned["before"]["size_bytes"],
                     "size_gz_ratio": a["size_gz_bytes"] / pruned["before"]["size_gz_bytes"],
                     "latency_ratio": a["cpu_ms_per_image"] / pruned["before"]["cpu_ms_per_image"]})
    if distilled:
        recs.append({"model": "student-distilled", "accuracy": distilled["after"]["accuracy"],
                     "train_minutes": distilled["train"]["train_minutes"], "params": distilled["after"]["params"],
                     "alone_accuracy": alone_eval.get("accuracy")})
    for r in recs:
        print(json.dumps(r))


if __name__ == "__main__":
    main()

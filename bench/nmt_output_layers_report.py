"""Helper of bench/nmt_output_layers.sh: one JSON record per run, and the markdown tables.

    nmt_output_layers_report.py run LAYER RUN_DIR TRANSLATE_S    # an output-layer run
    nmt_output_layers_report.py mp N RUN_DIR DATA_DIR            # a run in N processes (1 or 2)
    nmt_output_layers_report.py table RESULTS.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

MB = 1 << 20


def history(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def rate(hist: list[dict]) -> float:
    """Target tokens per second over all epochs (items_per_s weighted by epoch time)."""
    secs = sum(h["epoch_s"] for h in hist)
    return sum(h["items_per_s"] * h["epoch_s"] for h in hist) / secs


def run_record(layer: str, run: Path, translate_s: float) -> dict:
    summary = json.loads(Path(f"{run}.train.json").read_text())
    score = json.loads(Path(f"{run}.score.json").read_text())
    hist = history(run)
    return {"run": layer, "params": summary["params"], "train_minutes": summary["train_minutes"],
            "steps": summary["steps"], "tokens_per_s": round(rate(hist), 1),
            "dev_loss": round(hist[-1]["dev_loss"], 4), "dev_bleu_greedy_200": round(hist[-1]["bleu"], 2),
            "test_bleu": round(score["bleu"], 2), "test_chrf": round(score["chrf"], 2),
            "translate_s": translate_s}


def single_process_memory(run: Path, data: Path) -> dict:
    """Parameter bytes and the peak activation bytes (saved for backward) of the whole model on the
    first training batches, measured as model_parallel.ActivationMeter measures each stage."""
    from speechlang.accel import load_checkpoint
    from speechlang.nmt.encoded import read_meta
    from speechlang.nmt.model_parallel import ActivationMeter, param_bytes
    from speechlang.nmt.registry import build_model
    from speechlang.nmt.train import NMTConfig, Split, nmt_loss, token_batches

    ck = load_checkpoint(run / "checkpoint_last.pt")
    model = build_model(ck["extra"]["arch"], ck["model_config"]).train()
    model.load_state_dict(ck["model"])
    cfg = NMTConfig(**{k: v for k, v in ck["extra"]["nmt"].items()})
    split = Split(data, "train", read_meta(data))
    meter, peak = ActivationMeter(model.parameters()), 0
    for idx in token_batches(split.src_len, split.tgt_len, cfg.max_tokens, epoch=0, seed=ck["config"]["seed"])[:3]:
        with meter:
            loss, _ = nmt_loss(model, split.batch(idx, 1023), cfg.label_smoothing, model.config.output_layer)
        peak = max(peak, meter.bytes)
        loss.backward()
        model.zero_grad(set_to_none=True)
    return {"param_bytes": param_bytes(model), "activation_bytes": peak}


def mp_record(n: int, run: Path, data: Path) -> dict:
    hist = history(run)
    rec = {"run": f"model-parallel {n}" if n > 1 else "one process", "processes": n,
           "steps": hist[-1]["step"], "tokens_per_s": round(rate(hist), 1),
           "max_rss_mb_all": round(int(Path(f"{run}.maxrss_kb").read_text().split()[-1]) / 1024, 1)}
    if n == 1:
        mem = single_process_memory(run, data)
        rec.update({f"stage0_{k[:-6]}_mb": round(v / MB, 2) for k, v in mem.items()})
    else:
        last = hist[-1]
        rec["micro_batches"] = last["micro_batches"]
        for r in range(n):
            for k in ("param", "activation", "peak"):
                rec[f"stage{r}_{k}_mb"] = round(last[f"stage{r}_{k}_bytes"] / MB, 2)
    return rec


def stage_cell(rec: dict, s: int) -> str:
    """'params / activations / peak' MB of stage s, '-' where not measured."""
    keys = [f"stage{s}_{k}_mb" for k in ("param", "activation", "peak")]
    return " / ".join(str(rec.get(k, "-")) for k in keys) if keys[0] in rec else "-"


def table(path: Path) -> str:
    recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    layers = [r for r in recs if "test_bleu" in r]
    mps = [r for r in recs if "processes" in r]
    out = ["| output layer | params | minutes | steps | target tokens/s | dev loss | dev BLEU (greedy, 200) "
           "| test BLEU (greedy) | test chrF | translate s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in layers:
        out.append(f"| {r['run']} | {r['params'] / 1e6:.2f} M | {r['train_minutes']} | {r['steps']} | "
                   f"{r['tokens_per_s']:.0f} | {r['dev_loss']:.3f} | {r['dev_bleu_greedy_200']:.2f} | "
                   f"{r['test_bleu']:.2f} | {r['test_chrf']:.2f} | {r['translate_s']} |")
    out += ["", "| run | steps | target tokens/s | stage 0 params / activations / peak MB | "
            "stage 1 params / activations / peak MB | max RSS MB (time %M) |", "|---|---:|---:|---|---|---:|"]
    for r in mps:
        out.append(f"| {r['run']} | {r['steps']} | {r['tokens_per_s']:.0f} | {stage_cell(r, 0)} | "
                   f"{stage_cell(r, 1)} | {r['max_rss_mb_all']} |")
    return "\n".join(out)


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    if argv[0] == "run":
        print(json.dumps(run_record(argv[1], Path(argv[2]), float(argv[3]))))
    elif argv[0] == "mp":
        print(json.dumps(mp_record(int(argv[1]), Path(argv[2]), Path(argv[3]))))
    elif argv[0] == "table":
        print(table(Path(argv[1])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

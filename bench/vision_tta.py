"""Validation accuracy of a trained vision run with and without test-time augmentation (--tta),
on the validation split the run held out of its training data: the choice of --tta for the
test evaluation is made here, never on the test set.

    .venv/bin/python bench/vision_tta.py RUN_DIR TRAIN_IMAGES   # one JSON line
"""

from __future__ import annotations

import argparse
import json

import torch

from speechlang.vision.data import load_images
from speechlang.vision.evaluate import images_tensor
from speechlang.vision.train import held_out, load_model, predict_logits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run")
    ap.add_argument("train")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(f"{a.run}/config.json"))["config"]
    _, val = held_out(load_images(a.train), cfg["valid"], cfg["loop"]["seed"])
    lm = load_model(a.run, torch.device("cpu"))
    x, y = images_tensor(lm, val), torch.from_numpy(val.y)
    acc = {tta: float((predict_logits(lm.model, x, channels_last=lm.channels_last, tta=tta).argmax(1) == y)
                      .double().mean() * 100) for tta in (False, True)}
    print(json.dumps({"run": a.run, "val_images": len(y), "val_acc": acc[False], "val_acc_tta": acc[True],
                      "tta": acc[True] > acc[False]}))


if __name__ == "__main__":
    main()

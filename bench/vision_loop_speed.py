"""Images/s of `speechlang vision train` (speechlang.accel.fit) beside a plain hand-written
PyTorch loop on the same model, data, batches, augmentation, optimizer and schedule, each run in
a fresh process (alternating), so that the two share no allocator or thread-pool state.

    .venv/bin/python bench/vision_loop_speed.py train-images-idx3-ubyte.gz --images 10000
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from speechlang.accel import DistEnv, TrainConfig, index_batches, set_seed
from speechlang.vision.augment import AugmentConfig, augment, epoch_generator
from speechlang.vision.data import ImageSet, load_images
from speechlang.vision.npz import write_npz
from speechlang.vision.preprocess import PreprocessConfig, fit_stats
from speechlang.vision.registry import build_model
from speechlang.vision.train import VisionTrainConfig, layout, to_tensors, train


def plain_loop(x, y, *, arch, batch_size, epochs, lr, seed, aug) -> float:
    """The loop as one would write it by hand; returns images/s over the epochs."""
    set_seed(seed)
    model = build_model(arch, in_channels=1, num_classes=10, image_size=(28, 28))
    model.to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    steps = epochs * math.ceil(len(y) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    n, t0 = 0, time.perf_counter()
    for epoch in range(epochs):
        gen = epoch_generator(seed, epoch, 0, x.device)
        for idx in index_batches(len(y), batch_size, epoch=epoch, seed=seed, env=DistEnv()):
            i = torch.from_numpy(idx)
            xb = layout(augment(x[i], aug, gen), True)
            loss = F.cross_entropy(model(xb), y[i], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            n += len(i)
    return n / (time.perf_counter() - t0)


def one_run(a) -> float:
    """Images/s of one loop (`a.one`) in this process."""
    torch.set_num_threads(a.threads)
    ds = load_images(a.train)
    sub = ImageSet(ds.x[: a.images], ds.y[: a.images], ds.classes, ds.source)
    pcfg = PreprocessConfig()
    aug = AugmentConfig(crop_padding=2, hflip=True)
    if a.one == "plain":
        stats = fit_stats(torch.from_numpy(sub.x), pcfg)
        x, y = to_tensors(sub, pcfg, stats, torch.device("cpu"))
        return plain_loop(x, y, arch=a.arch, batch_size=a.batch_size, epochs=a.epochs, lr=0.05, seed=1, aug=aug)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/sub.npz"
        write_npz(path, sub.x[:, 0], sub.y)
        cfg = VisionTrainConfig(arch=a.arch, batch_size=a.batch_size, valid=0, augment=aug,
                                loop=TrainConfig(epochs=a.epochs, lr=0.05, optimizer="sgd", momentum=0.9,
                                                 weight_decay=5e-4, schedule="cosine", device="cpu"))
        return train(path, None, cfg)["images_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("train")
    ap.add_argument("--images", type=int, default=10000, help="training images used (from the start)")
    ap.add_argument("--arch", default="resnet")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=4, help="alternating runs of each; medians are reported")
    ap.add_argument("--one", choices=("plain", "ours"), help=argparse.SUPPRESS)  # one run, in this process
    a = ap.parse_args()
    if a.one:
        print(one_run(a))
        return
    # every run in a fresh process: the two loops share no allocator or thread-pool state
    runs = {"plain": [], "ours": []}
    for r in range(a.repeats):  # alternate which runs first: load from other jobs drifts
        for which in ("plain", "ours") if r % 2 == 0 else ("ours", "plain"):
            out = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--one", which], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
            runs[which].append(float(out.split()[-1]))
    ours, plain = runs["ours"], runs["plain"]
    med = statistics.median
    print(json.dumps({"arch": a.arch, "images": a.images, "batch_size": a.batch_size, "threads": a.threads,
                      "speechlang_images_per_s": med(ours), "plain_images_per_s": med(plain),
                      "ratio": med(ours) / med(plain),
                      "paired_ratio_median": med([o / p for o, p in zip(ours, plain, strict=True)]),
                      "runs_speechlang": ours, "runs_plain": plain}))


if __name__ == "__main__":
    main()

"""Training an image classifier through the shared loop (`speechlang.accel.fit`), and loading
trained models back with their preprocessing.

The whole (preprocessed) training set sits on the device as one float tensor; each batch is
gathered by index and augmented there with a generator seeded from (seed, rank, epoch), so
`--resume` continues bit for bit on CPU and DDP ranks see disjoint shards.

    summary = train("train-images-idx3-ubyte.gz", "exp/resnet", VisionTrainConfig())
    model, meta = load_model("exp/resnet")
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlang import log
from speechlang.accel import (
    TrainConfig,
    derive_seed,
    fit,
    index_batches,
    load_checkpoint,
    resolve_device,
    set_seed,
)
from speechlang.accel.hogwild import check_hogwild, hogwild_fit
from speechlang.accel.moe import moe_loss
from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import atomic_output
from speechlang.vision.augment import AugmentConfig, augment, epoch_generator
from speechlang.vision.data import ImageSet, load_images, split_validation
from speechlang.vision.preprocess import PreprocessConfig, fit_stats, preprocess
from speechlang.vision.registry import VisionModel, build_from_spec, build_model

BEST, LAST = "checkpoint_best.pt", "checkpoint_last.pt"


@dataclass(frozen=True)
class VisionTrainConfig:
    arch: str = field(default="resnet", metadata={"help": "registered architecture name"})
    model_opts: tuple[str, ...] = field(default=(), metadata={"help": "KEY=VALUE overrides of the model config"})
    batch_size: int = 128            # images per optimizer step (per rank under DDP)
    eval_batch_size: int = 1000      # images per forward pass in evaluation
    valid: float = 5000              # held-out validation images: a count, or a fraction < 1
    label_smoothing: float = 0.1     # cross-entropy target smoothing (Szegedy et al. 2016)
    channels_last: bool = True       # NHWC memory layout (faster convolutions on CPU and tensor cores)
    compile: bool = False            # torch.compile the model (slow start, faster steps on GPU)
    num_classes: int = 0             # 0: from the data; labels must lie in [0, num_classes)
    on_size_mismatch: str = "error"  # images of other sizes in a folder: error or resize
    class_names: tuple[str, ...] = ()  # names of classes 0..K-1 (IDX files have none)
    hogwild: int = 0                 # > 0: this many lock-free CPU worker processes (accel.hogwild)
    preprocess: PreprocessConfig = PreprocessConfig()
    augment: AugmentConfig = AugmentConfig(crop_padding=2, hflip=True)
    loop: TrainConfig = TrainConfig(epochs=12, lr=0.05, optimizer="sgd", momentum=0.9,
                                    weight_decay=5e-4, schedule="cosine", warmup_steps=200,
                                    monitor="val_acc", monitor_mode="max")

    def check(self) -> None:
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("--batch-size must be >= 1")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("--label-smoothing must be in [0, 1)")
        self.preprocess.check()
        self.augment.check()
        self.loop.check()


def to_tensors(ds: ImageSet, pcfg: PreprocessConfig, stats: dict | None,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Images preprocessed on `device` as float32 (N, C, H, W) and labels (N,) int64."""
    x = preprocess(torch.from_numpy(ds.x).to(device), pcfg, stats)
    return x, torch.from_numpy(ds.y).to(device)


def prepare_model(model: nn.Module, device: torch.device, *, channels_last: bool,
                  compile: bool = False) -> nn.Module:
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if compile:
        model.compile()  # in place: state_dict keys stay unchanged
    return model


def layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1000,
                   channels_last: bool = False, tta: bool = False) -> torch.Tensor:
    """(N, C, H, W) float on the model's device -> (N, K) float32 logits on the CPU. With `tta`
    (test-time augmentation), the mean of the logits of each image and its left-right mirror."""
    def logits(xb: torch.Tensor) -> torch.Tensor:
        out = model(layout(xb, channels_last)).float()
        return (out + model(layout(xb.flip(-1), channels_last)).float()) / 2 if tta else out

    was = model.training
    model.eval()
    out = [logits(x[i:i + batch_size]).cpu() for i in range(0, len(x), batch_size)]
    model.train(was)
    return torch.cat(out) if out else torch.zeros(0, getattr(model, "num_classes", 0))


def make_batches(x: torch.Tensor, y: torch.Tensor, *, batch_size: int, seed: int,
                 aug: AugmentConfig, channels_last: bool):
    """batches(epoch, env) for `fit`: shuffled by (seed, epoch), augmented by (seed, rank, epoch)."""
    def batches(epoch, env):
        gen = epoch_generator(seed, epoch, env.rank, x.device)
        for idx in index_batches(len(y), batch_size, epoch=epoch, seed=seed, env=env):
            i = torch.from_numpy(idx).to(x.device)
            xb = augment(x[i], aug, gen) if aug.active else x[i]
            yield layout(xb, channels_last), y[i]
    return batches


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y.cpu()).double().mean() * 100) if len(y) else float("nan")


def held_out(ds: ImageSet, valid: float, seed: int) -> tuple[ImageSet, ImageSet | None]:
    """(training part, validation split) of `ds` as a run with --valid VALID --seed SEED makes it."""
    return split_validation(ds, valid, seed=derive_seed(seed, 0x5A1))


def load_training_data(path: str, cfg: VisionTrainConfig, seed: int):
    k = cfg.num_classes or len(cfg.class_names) or None
    ds = load_images(path, num_classes=k, on_size_mismatch=cfg.on_size_mismatch)
    if cfg.class_names:
        if len(cfg.class_names) != len(ds.classes) or len(set(cfg.class_names)) != len(cfg.class_names):
            raise ConfigError(f"--class-names: {len(cfg.class_names)} distinct names needed "
                              f"{len(ds.classes)} for the classes of {path}")
        ds = replace(ds, classes=list(cfg.class_names))
    train_set, val_set = held_out(ds, cfg.valid, seed)
    counts = np.bincount(train_set.y, minlength=len(ds.classes))
    if (counts == 0).any():
        log.warn(f"{path}: classes {[ds.classes[i] for i in np.flatnonzero(counts == 0)]} have no "
                 "training images")
    return train_set, val_set


def write_run_info(out: Path, cfg: VisionTrainConfig, extra: dict) -> None:
    with atomic_output(out / "config.json") as f:
        json.dump({"config": asdict(cfg), **extra, "argv": sys.argv}, f, indent=1, default=str)
        f.write("\n")


def train(train_path: str, out_dir: str | None, cfg: VisionTrainConfig, *, resume: bool = False,
          loss_override=None, model: VisionModel | None = None, stats: dict | None = None,
          extra: dict | None = None, desc: str = "train") -> dict:
    """Train `cfg.arch` on the images at `train_path`; checkpoints go to `out_dir`.

    Returns a summary: validation accuracy, epochs, steps, images/s, train minutes, params.
    `loss_override(net, x, y) -> loss` replaces cross-entropy (pruning, distillation); `model`
    and `stats` (preprocessing statistics) continue from a trained model.
    """
    cfg.check()
    if cfg.hogwild:
        check_hogwild(cfg.loop, cfg.hogwild, resume=resume)
    seed = cfg.loop.seed
    set_seed(seed)
    device = resolve_device("cpu" if cfg.hogwild else cfg.loop.device)
    train_set, val_set = load_training_data(train_path, cfg, seed)
    if stats is None:
        stats = fit_stats(torch.from_numpy(train_set.x).to(device), cfg.preprocess)
    x, y = to_tensors(train_set, cfg.preprocess, stats, device)
    xv, yv = to_tensors(val_set, cfg.preprocess, stats, device) if val_set else (None, None)
    c, h, w = train_set.shape
    if model is None:
        model = build_model(cfg.arch, in_channels=c, num_classes=len(train_set.classes),
                            image_size=(h, w), overrides=list(cfg.model_opts))
    n_params = sum(p.numel() for p in model.parameters())
    log.info(f"{cfg.arch}: {n_params} parameters; {len(train_set)} training, "
             f"{len(val_set) if val_set else 0} validation images of {c}x{h}x{w}")
    prepare_model(model, device, channels_last=cfg.channels_last, compile=cfg.compile)
    loop = cfg.loop
    if val_set is None and loop.monitor == "val_acc":
        loop = replace(loop, monitor="train_loss", monitor_mode="min")

    def loss_fn(net, batch):
        xb, yb = batch
        if loss_override is not None:
            return loss_override(net, xb, yb) + moe_loss(net), len(yb)
        return F.cross_entropy(net(xb).float(), yb, label_smoothing=cfg.label_smoothing) + moe_loss(net), len(yb)

    def evaluate(net):
        logits = predict_logits(net, xv, batch_size=cfg.eval_batch_size, channels_last=cfg.channels_last)
        return {"val_acc": accuracy(logits, yv), "val_loss": float(F.cross_entropy(logits, yv.cpu()))}

    meta = {"classes": train_set.classes, "preprocess": asdict(cfg.preprocess), "stats": stats,
            "channels_last": cfg.channels_last, **(extra or {})}
    if out_dir is not None and _rank() == 0:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_run_info(Path(out_dir), cfg, {"model": model.spec(), **meta})
    steps = math.ceil(math.ceil(len(y) / max(1, _world())) / cfg.batch_size)
    t0 = time.perf_counter()
    batches = make_batches(x, y, batch_size=cfg.batch_size, seed=seed, aug=cfg.augment,
                           channels_last=cfg.channels_last)
    common = dict(evaluate=evaluate if val_set is not None else None, out_dir=out_dir, steps_per_epoch=steps,
                  model_config=model.spec(), extra=meta, desc=desc, unit="images")
    if cfg.hogwild:
        res = hogwild_fit(model, loss_fn, batches, loop, cfg.hogwild, **common)
    else:
        res = fit(model, loss_fn, batches, loop, resume=resume, **common)
    minutes = (time.perf_counter() - t0) / 60
    hist = res.history
    return {"arch": model.name, "params": n_params, "epochs": res.epochs, "steps": res.steps,
            "val_acc": hist[-1].get("val_acc") if hist else None,
            "best_val_acc": res.best if val_set is not None else None, "best_epoch": res.best_epoch,
            "train_loss": hist[-1]["train_loss"] if hist else None,
            "images_per_s": float(np.mean([r["items_per_s"] for r in hist])) if hist else None,
            "train_minutes": minutes, **({"worker_images": hist[-1]["worker_items"]} if cfg.hogwild else {})}


def _world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


@dataclass
class LoadedModel:
    """A trained model with what it needs to read images: classes, preprocessing, stats."""

    model: VisionModel
    classes: list[str]
    preprocess: PreprocessConfig
    stats: dict | None
    channels_last: bool
    quantized: str
    path: str
    n_params: int = 0
    tta: bool = False  # predictions average each image with its left-right mirror

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.model.in_channels, *self.model.image_size)


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or a training directory (its checkpoint_best.pt, else checkpoint_last.pt)."""
    p = Path(path)
    if p.is_dir():
        for name in (BEST, LAST, "model.pt"):
            if (p / name).is_file():
                return p / name
        raise DataError(f"{p}: no {BEST} or {LAST} in this directory; is it a training output?")
    if not p.exists():
        raise DataError(f"{p}: no such model file or directory")
    return p


def load_model(path: str | Path, device: torch.device | None = None, *, tta: bool = False) -> LoadedModel:
    """Rebuild a model saved by `train` or `compress` (architecture from the checkpoint); `tta`:
    its predictions average each image with its left-right mirror."""
    p = checkpoint_path(path)
    with warnings.catch_warnings():  # torch warns about its own storage API on int8 tensors
        warnings.simplefilter("ignore", UserWarning)
        ck = load_checkpoint(p)
    spec, meta = ck.get("model_config") or {}, ck.get("extra") or {}
    if "arch" not in spec or "classes" not in meta:
        raise FormatError(f"{p}: not a vision model checkpoint (no architecture or classes stored)")
    model = build_from_spec(spec)
    quant = meta.get("quantized", "")
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    if quant:  # int8 weights are stored as such: quantize the architecture, then load them
        from speechlang.accel.compress import quantize_int8

        model = quantize_int8(model)
    try:
        model.load_state_dict(ck["model"])
    except (RuntimeError, KeyError) as e:
        raise FormatError(f"{p}: weights do not fit the stored architecture: {str(e).splitlines()[0]}") from None
    if device is not None and not quant:
        model.to(device)
    pcfg = PreprocessConfig(**meta["preprocess"])
    return LoadedModel(model, list(meta["classes"]), pcfg, meta.get("stats"),
                       bool(meta.get("channels_last", False)) and not quant, quant, str(p), n_params, tta)


def model_device(lm: LoadedModel) -> torch.device:
    try:
        return next(lm.model.parameters()).device
    except StopIteration:
        return torch.device("cpu")

"""Compressing a trained classifier: magnitude pruning with fine-tuning, int8 quantization for
CPU inference, and distillation of a smaller student (speechlang.accel.compress does the
arithmetic). Each reports parameters, size, CPU latency per image and accuracy before and after.

    rep = prune("exp/resnet", "train.gz", "test.gz", "exp/pruned", sparsity=0.8, int8=True)
"""

from __future__ import annotations

import io
import zlib
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from speechlang import log
from speechlang.accel import save_checkpoint, set_seed
from speechlang.accel.compress import (
    apply_masks,
    cpu_latency,
    distillation_loss,
    magnitude_prune,
    model_size_bytes,
    quantize_int8,
    sparsity_of,
)
from speechlang.errors import ConfigError
from speechlang.vision.evaluate import evaluate_model
from speechlang.vision.registry import build_model
from speechlang.vision.train import LoadedModel, VisionTrainConfig, load_model, train

MODEL_FILE = "model.pt"


def gzip_size_bytes(model: nn.Module) -> int:
    """Bytes of the serialized state dict after zlib (zeros from pruning compress away)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return len(zlib.compress(buf.getvalue(), 6))


def figures(lm: LoadedModel, data: str) -> dict:
    """Parameters, sizes, sparsity and accuracy on `data` (latency: `paired_latency`)."""
    return {"params": lm.n_params, "size_bytes": model_size_bytes(lm.model),
            "size_gz_bytes": gzip_size_bytes(lm.model), "sparsity": sparsity_of(lm.model),
            "accuracy": evaluate_model(lm, data)["accuracy"]}


def paired_latency(before: LoadedModel, after: LoadedModel, rounds: int = 5,
                   repeats: int = 20) -> tuple[float, float]:
    """CPU milliseconds per image (batch of 1) of two models, measured in alternating rounds;
    the fastest round of each counts, so that load from other processes hits both alike."""
    tb, ta = [], []
    for _ in range(rounds):
        tb.append(cpu_latency(before.model, torch.zeros(1, *before.image_shape), repeats))
        ta.append(cpu_latency(after.model, torch.zeros(1, *after.image_shape), repeats))
    return 1000 * min(tb), 1000 * min(ta)


def _report(method: str, before_lm: LoadedModel, after_lm: LoadedModel, before: dict, after: dict,
            **extra) -> dict:
    before["cpu_ms_per_image"], after["cpu_ms_per_image"] = paired_latency(before_lm, after_lm)
    return {"method": method, **extra, "before": before, "after": after}


def save_model(out_dir: str | Path, lm: LoadedModel, *, quantized: str = "", note: dict | None = None) -> Path:
    """Write a loadable model file OUT_DIR/model.pt; `quantized="int8"` stores int8 weights."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = quantize_int8(lm.model) if quantized else lm.model
    meta = {"classes": lm.classes, "preprocess": lm.preprocess.__dict__.copy(), "stats": lm.stats,
            "channels_last": lm.channels_last, "quantized": quantized, **(note or {})}
    save_checkpoint(out / MODEL_FILE, {"model_config": lm.model.spec(), "extra": meta,
                                       "model": model.state_dict()})
    return out / MODEL_FILE


def _finetune_config(cfg: VisionTrainConfig, lm: LoadedModel) -> VisionTrainConfig:
    return replace(cfg, preprocess=lm.preprocess, channels_last=lm.channels_last)


def prune(model_path: str, train_path: str, data: str, out_dir: str, *, sparsity: float,
          scope: str = "global", cfg: VisionTrainConfig, int8: bool = False,
          finetune: bool = True) -> dict:
    """Magnitude-prune `sparsity` of the conv/linear weights, fine-tune with the masks held, and
    optionally quantize to int8; figures before and after on `data`."""
    lm = load_model(model_path)
    before = figures(lm, data)
    masks = magnitude_prune(lm.model, sparsity, scope)
    log.info(f"pruned to sparsity {sparsity_of(lm.model):.3f} ({scope}); fine-tuning "
             f"{cfg.loop.epochs if finetune else 0} epochs")
    pruned_acc = evaluate_model(lm, data)["accuracy"]
    model = lm.model

    def masked_loss(net, xb, yb):
        apply_masks(model, masks)  # pruned weights stay zero through every update
        return nn.functional.cross_entropy(net(xb).float(), yb, label_smoothing=cfg.label_smoothing)

    ft = {}
    if finetune:
        ft = train(train_path, str(Path(out_dir) / "finetune"), _finetune_config(cfg, lm),
                   model=model, stats=lm.stats, loss_override=masked_loss, desc="fine-tune")
    apply_masks(model, masks)
    model.to("cpu").eval()
    if int8:
        path = save_model(out_dir, lm, quantized="int8")
        lm = load_model(path)
    else:
        path = save_model(out_dir, lm)
    after = figures(lm, data)
    return _report("prune" + ("+int8" if int8 else ""), load_model(model_path), lm, before, after,
                   sparsity=sparsity, scope=scope, accuracy_pruned_before_finetune=pruned_acc,
                   finetune=ft, output=str(path))


def quantize(model_path: str, data: str, out_dir: str) -> dict:
    """Dynamic int8 quantization of the Linear layers for CPU inference; figures before and after."""
    lm = load_model(model_path)
    before = figures(lm, data)
    path = save_model(out_dir, lm, quantized="int8")
    q = load_model(path)
    after = figures(q, data)
    return _report("int8", lm, q, before, after, output=str(path))


def distill(teacher_path: str, train_path: str, data: str, out_dir: str, *, cfg: VisionTrainConfig,
            temperature: float = 4.0, alpha: float = 0.9) -> dict:
    """Train a student `cfg.arch` on the teacher's soft targets (Hinton et al. 2015)."""
    if temperature <= 0 or not 0 <= alpha <= 1:
        raise ConfigError("--temperature must be > 0 and --alpha in [0, 1]")
    teacher = load_model(teacher_path)
    if teacher.quantized:
        raise ConfigError(f"{teacher_path}: use a float teacher, not an int8 model")
    before = figures(teacher, data)
    c, h, w = teacher.image_shape
    set_seed(cfg.loop.seed)  # the same initial weights as `train` gives the student alone
    student = build_model(cfg.arch, in_channels=c, num_classes=len(teacher.classes),
                          image_size=(h, w), overrides=list(cfg.model_opts))
    tmodel = teacher.model
    from speechlang.accel import resolve_device
    from speechlang.vision.train import prepare_model

    prepare_model(tmodel, resolve_device(cfg.loop.device, announce=False),
                  channels_last=cfg.channels_last).eval()

    def kd_loss(net, xb, yb):
        with torch.no_grad():
            t = tmodel(xb)
        return distillation_loss(net(xb), t, yb, temperature, alpha)

    summary = train(train_path, out_dir, replace(cfg, preprocess=teacher.preprocess), model=student,
                    stats=teacher.stats, loss_override=kd_loss, desc="distill",
                    extra={"teacher": str(teacher.path)})
    student_lm = load_model(out_dir)
    after = figures(student_lm, data)
    return _report("distill", teacher, student_lm, before, after, temperature=temperature,
                   alpha=alpha, train=summary, output=str(Path(out_dir)))

"""`speechlang vision`: CNN image classification with preprocessing, augmentation and compression."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from speechlang import log
from speechlang.accel import TrainConfig, resolve_device, set_threads
from speechlang.cli import GROUPS
from speechlang.cli._util import Device, Hogwild, Json, Output, Precision, Seed, Threads, emit_json, make_app
from speechlang.io import atomic_output, check_writable, iter_lines
from speechlang.vision.augment import AugmentConfig
from speechlang.vision.preprocess import PreprocessConfig
from speechlang.vision.registry import MODELS, model_names
from speechlang.vision.train import VisionTrainConfig

app = make_app(GROUPS["vision"].help)
compress_app = make_app("Make a trained model cheaper: prune, quantize to int8, or distill a student.")
app.add_typer(compress_app, name="compress")

ARCHS = ", ".join(model_names())
DATA_HELP = "labelled images: an IDX images file (labels beside it), an .npz, or a folder of class folders"

Arch = Annotated[str, typer.Option("--arch", help=f"architecture: {ARCHS}")]
ModelOpt = Annotated[list[str] | None, typer.Option(
    "--model-opt", help="KEY=VALUE override of the model config, repeatable (see `vision models`)")]
TrainData = Annotated[str, typer.Option("--train", help=f"training data: {DATA_HELP}")]
EvalData = Annotated[str, typer.Option("--data", "-d", help=f"evaluation data: {DATA_HELP}")]
OutDir = Annotated[str, typer.Option("--output-dir", "-o", help="directory for checkpoints and config.json")]
ModelPath = Annotated[str, typer.Option("--model", "-m", help="trained model: a training output dir or a .pt file")]
Epochs = Annotated[int, typer.Option("--epochs", min=1, help="passes over the training data")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="images per step (per process under torchrun)")]
Lr = Annotated[float, typer.Option("--lr", min=0, help="peak learning rate")]
Optimizer = Annotated[str, typer.Option("--optimizer", help="sgd (momentum 0.9), adamw or adam")]
WeightDecay = Annotated[float, typer.Option("--weight-decay", min=0)]
Schedule = Annotated[str, typer.Option("--schedule", help="constant, linear, cosine, inverse-sqrt or plateau")]
Warmup = Annotated[int, typer.Option("--warmup-steps", min=0, help="linear LR warm-up steps")]
Valid = Annotated[float, typer.Option(
    "--valid", min=0, help="validation images held out of --train: a count, or a fraction < 1")]
Smoothing = Annotated[float, typer.Option("--label-smoothing", min=0, max=0.99)]
ChannelsLast = Annotated[bool, typer.Option("--channels-last/--no-channels-last", help="NHWC memory layout")]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile the model")]
SizePolicy = Annotated[str, typer.Option("--on-size-mismatch", help="folder images of another size: error or resize")]
TTA = Annotated[bool, typer.Option("--tta", help="test-time augmentation: average the prediction for each "
                                   "image and its left-right mirror (for models trained with --hflip)")]
Scale = Annotated[str, typer.Option("--scale", help="unit: pixels to [0, 1]; symmetric: to [-1, 1]")]
Gcn = Annotated[bool, typer.Option("--gcn", help="global contrast normalization per image")]
Lcn = Annotated[bool, typer.Option("--lcn", help="local contrast normalization (9x9 Gaussian window)")]
Standardize = Annotated[bool, typer.Option("--standardize/--no-standardize", help="per-channel mean 0, std 1")]
CropPad = Annotated[int, typer.Option(
    "--crop-padding", min=0, help="random crop after zero padding by P pixels (0: off)")]
HFlip = Annotated[bool, typer.Option("--hflip/--no-hflip", help="random left-right flips")]
VFlip = Annotated[bool, typer.Option("--vflip", help="random up-down flips")]
Translate = Annotated[float, typer.Option("--translate", min=0, help="random shifts up to this many pixels (0: off)")]
Erase = Annotated[float, typer.Option(
    "--erase", min=0, max=1, help="random erasing: probability of a noise rectangle per image (0: off)")]
Patience = Annotated[int, typer.Option(
    "--patience", min=0, help="stop after N epochs without better validation accuracy (0: off)")]
ClassNames = Annotated[str | None, typer.Option(
    "--class-names", help="file with the names of classes 0..K-1, one a line (IDX/NPZ data)")]
NumClasses = Annotated[int, typer.Option(
    "--num-classes", min=0, help="classes (0: from the data); labels must be below it")]
MoeExperts = Annotated[int, typer.Option(
    "--moe-experts", min=0, help="a hard mixture of N experts as the classifier head (--model-opt moe_experts=N)")]
MaxMinutes = Annotated[float, typer.Option(
    "--max-minutes", min=0, help="training time budget; the epoch reaching it is cut short (0: none)")]


def _config(*, arch="resnet", model_opt=None, epochs=12, batch_size=128, lr=0.05, optimizer="sgd",
            weight_decay=5e-4, schedule="cosine", warmup_steps=200, valid=5000.0, label_smoothing=0.1,
            channels_last=True, compile=False, on_size_mismatch="error", scale="unit", gcn=False,
            lcn=False, standardize=True, crop_padding=2, hflip=True, vflip=False, translate=0.0,
            erase=0.0, patience=0, num_classes=0, class_names=None, precision="fp32", device="auto",
            seed=1, hogwild=0, moe_experts=0, max_minutes=0.0) -> VisionTrainConfig:
    MODELS.lookup(arch)
    loop = TrainConfig(epochs=max(epochs, 1), lr=lr, optimizer=optimizer, momentum=0.9,
                       weight_decay=weight_decay, schedule=schedule, warmup_steps=warmup_steps,
                       precision=precision, device=device, seed=seed, patience=patience,
                       monitor="val_acc", monitor_mode="max", max_minutes=max_minutes)
    model_opts = tuple(model_opt or ()) + ((f"moe_experts={moe_experts}",) if moe_experts else ())
    return VisionTrainConfig(
        arch=arch, model_opts=model_opts, batch_size=batch_size, valid=valid, hogwild=hogwild,
        label_smoothing=label_smoothing, channels_last=channels_last, compile=compile,
        num_classes=num_classes, on_size_mismatch=on_size_mismatch,
        class_names=tuple(line.strip() for line in iter_lines(class_names) if line.strip()) if class_names else (),
        preprocess=PreprocessConfig(scale=scale, gcn=gcn, lcn=lcn, standardize=standardize),
        augment=AugmentConfig(crop_padding=crop_padding, hflip=hflip, vflip=vflip, translate=translate,
                              erase=erase),
        loop=loop)


def _print_summary(rec: dict, json_out: bool) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return
    if json_out:
        emit_json(rec)
    else:
        for k, v in rec.items():
            print(f"{k}\t{v:.4f}" if isinstance(v, float) else f"{k}\t{v}")


@app.command()
def models() -> None:
    """List the registered architectures and their config options (for --model-opt).

    \b
    Example: speechlang vision models
    """
    import dataclasses

    for name in model_names():
        print(name)
        for f in dataclasses.fields(MODELS[name].Config):
            print(f"  {f.name}={f.default if not isinstance(f.default, tuple) else ','.join(map(str, f.default))}")


@app.command()
def train(
    train_data: TrainData,
    output_dir: OutDir,
    arch: Arch = "resnet",
    model_opt: ModelOpt = None,
    epochs: Epochs = 12,
    batch_size: BatchSize = 128,
    lr: Lr = 0.05,
    optimizer: Optimizer = "sgd",
    weight_decay: WeightDecay = 5e-4,
    schedule: Schedule = "cosine",
    warmup_steps: Warmup = 200,
    valid: Valid = 5000.0,
    label_smoothing: Smoothing = 0.1,
    patience: Patience = 0,
    num_classes: NumClasses = 0,
    class_names: ClassNames = None,
    on_size_mismatch: SizePolicy = "error",
    scale: Scale = "unit",
    gcn: Gcn = False,
    lcn: Lcn = False,
    standardize: Standardize = True,
    crop_padding: CropPad = 2,
    hflip: HFlip = True,
    vflip: VFlip = False,
    translate: Translate = 0.0,
    erase: Erase = 0.0,
    channels_last: ChannelsLast = True,
    compile: Compile = False,
    moe_experts: MoeExperts = 0,
    max_minutes: MaxMinutes = 0.0,
    hogwild: Hogwild = 0,
    precision: Precision = "fp32",
    device: Device = "auto",
    threads: Threads = 0,
    seed: Seed = 1,
    resume: Annotated[bool, typer.Option("--resume", help="continue from OUTPUT_DIR/checkpoint_last.pt")] = False,
    json_out: Json = False,
) -> None:
    """Train a CNN classifier (runs under torchrun for DDP, or --hogwild N); best model: OUTPUT_DIR/checkpoint_best.pt.

    \b
    Example: speechlang vision train --train data/train-images-idx3-ubyte.gz -o exp/resnet --arch resnet --epochs 12
    """
    from speechlang.vision.train import train as run_train

    set_threads(threads)
    cfg = _config(**{k: v for k, v in locals().items() if k not in
                     ("train_data", "output_dir", "threads", "resume", "json_out", "run_train")})
    rec = run_train(train_data, output_dir, cfg, resume=resume)
    _print_summary(rec, json_out)


@app.command("eval")
def evaluate(
    model: ModelPath,
    data: EvalData,
    confusion_png: Annotated[str | None, typer.Option(
        "--confusion-png", help="also write the confusion matrix as a PNG heat map")] = None,
    on_size_mismatch: SizePolicy = "error",
    tta: TTA = False,
    device: Device = "auto",
    threads: Threads = 0,
    json_out: Json = False,
) -> None:
    """Accuracy, per-class accuracy and the confusion matrix of a model on labelled images.

    \b
    Example: speechlang vision eval -m exp/resnet -d data/t10k-images-idx3-ubyte.gz --confusion-png cm.png
    """
    from speechlang.vision.evaluate import evaluate_model, format_report, render_confusion
    from speechlang.vision.png import write_png
    from speechlang.vision.train import load_model

    set_threads(threads)
    if confusion_png:
        check_writable(confusion_png)
    lm = load_model(model, resolve_device(device), tta=tta)
    rep = evaluate_model(lm, data, on_size_mismatch=on_size_mismatch)
    if confusion_png:
        write_png(confusion_png, render_confusion(rep["confusion"]))
    if json_out:
        emit_json(rep)
    else:
        print(format_report(rep))


@app.command()
def predict(
    model: ModelPath,
    files: Annotated[list[str] | None, typer.Argument(help="image files (PNG, PGM, PPM)")] = None,
    input: Annotated[str | None, typer.Option(
        "--input", "-i", help="file listing image paths, one a line ('-' = stdin)")] = None,
    output: Output = "-",
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="labels and probabilities per image")] = 1,
    on_size_mismatch: SizePolicy = "error",
    on_error: Annotated[str, typer.Option(
        "--on-error", help="unreadable image: error, warn (skip it) or skip")] = "error",
    tta: TTA = False,
    device: Device = "auto",
    threads: Threads = 0,
) -> None:
    """Label image files: prints FILE, then LABEL<TAB>PROB top-k times, tab separated, one file a line.

    \b
    Example: speechlang vision predict -m exp/resnet shoe.png bag.pgm > labels.tsv
    """
    from speechlang.vision.predict import predict_files
    from speechlang.vision.train import load_model

    set_threads(threads)
    paths = list(files or [])
    if input is not None:
        paths += [line.strip() for line in iter_lines(input) if line.strip()]
    lm = load_model(model, resolve_device(device), tta=tta)
    recs = list(predict_files(lm, paths, top_k=top_k, on_size_mismatch=on_size_mismatch, on_error=on_error))
    with atomic_output(output) as f:
        for r in recs:
            f.write("\t".join([r["file"], *(f"{lab}\t{p:.6f}" for lab, p in r["top"])]) + "\n")


@app.command()
def cascade(
    small: Annotated[str, typer.Option("--small", help="cheap model (training dir or .pt)")],
    large: Annotated[str, typer.Option("--large", help="large model, asked when the cheap one is unsure")],
    data: EvalData,
    threshold: Annotated[float, typer.Option(
        "--threshold", min=0, max=1, help="cheap model answers when its top probability >= this")] = 0.9,
    tta: TTA = False,
    device: Device = "auto",
    threads: Threads = 0,
    json_out: Json = False,
) -> None:
    """Cascade inference: accuracy and share of images sent to the large model.

    \b
    Example: speechlang vision cascade --small exp/lenet --large exp/resnet -d t10k-images-idx3-ubyte --threshold 0.95
    """
    from speechlang.vision.cascade import cascade_evaluate
    from speechlang.vision.train import load_model

    set_threads(threads)
    dev = resolve_device(device)
    rec = cascade_evaluate(load_model(small, dev, tta=tta), load_model(large, dev, tta=tta), data, threshold)
    _print_summary(rec, json_out)


def _compress_report(rec: dict, json_out: bool) -> None:
    if json_out:
        emit_json(rec)
        return
    b, a = rec["before"], rec["after"]
    print(f"method\t{rec['method']}")
    print("figure\tbefore\tafter\tratio")
    for k in ("params", "size_bytes", "size_gz_bytes", "sparsity", "cpu_ms_per_image", "accuracy"):
        ratio = f"{a[k] / b[k]:.3f}" if b[k] else "-"
        fmt = (lambda v: f"{v:.4f}") if isinstance(b[k], float) else str
        print(f"{k}\t{fmt(b[k])}\t{fmt(a[k])}\t{ratio}")
    print(f"output\t{rec['output']}")
    log.info(json.dumps({k: v for k, v in rec.items() if k not in ("before", "after")}, default=str))


@compress_app.command()
def prune(
    model: ModelPath,
    train_data: TrainData,
    data: EvalData,
    output_dir: OutDir,
    sparsity: Annotated[float, typer.Option(
        "--sparsity", min=0, max=0.999, help="share of conv/linear weights set to zero")] = 0.8,
    scope: Annotated[str, typer.Option(
        "--scope", help="global (one threshold) or layer (each layer loses SPARSITY)")] = "global",
    int8: Annotated[bool, typer.Option("--int8", help="also quantize to int8 after fine-tuning")] = False,
    epochs: Annotated[int, typer.Option("--epochs", min=0, help="fine-tuning epochs (0: none)")] = 2,
    batch_size: BatchSize = 128,
    lr: Lr = 0.01,
    valid: Valid = 5000.0,
    crop_padding: CropPad = 2,
    hflip: HFlip = True,
    device: Device = "auto",
    threads: Threads = 0,
    seed: Seed = 1,
    json_out: Json = False,
) -> None:
    """Magnitude pruning with fine-tuning (and optional int8); figures before and after on --data.

    \b
    Example: speechlang vision compress prune -m exp/resnet --train train.npz -d test.npz \\
             --sparsity 0.8 --int8 -o exp/pruned
    """
    from speechlang.vision.compress import prune as run_prune

    set_threads(threads)
    cfg = _config(epochs=epochs, batch_size=batch_size, lr=lr, valid=valid, crop_padding=crop_padding,
                  hflip=hflip, device=device, seed=seed, warmup_steps=0)
    _compress_report(run_prune(model, train_data, data, output_dir, sparsity=sparsity, scope=scope,
                               cfg=cfg, int8=int8, finetune=epochs > 0), json_out)


@compress_app.command()
def quantize(
    model: ModelPath,
    data: EvalData,
    output_dir: OutDir,
    threads: Threads = 0,
    json_out: Json = False,
) -> None:
    """Dynamic int8 quantization for CPU inference; figures before and after on --data.

    \b
    Example: speechlang vision compress quantize -m exp/resnet -d test.npz -o exp/int8
    """
    from speechlang.vision.compress import quantize as run_quantize

    set_threads(threads)
    _compress_report(run_quantize(model, data, output_dir), json_out)


@compress_app.command()
def distill(
    teacher: Annotated[str, typer.Option("--teacher", help="trained teacher model (dir or .pt)")],
    train_data: TrainData,
    data: EvalData,
    output_dir: OutDir,
    arch: Arch = "resnet",
    model_opt: ModelOpt = None,
    temperature: Annotated[float, typer.Option(
        "--temperature", min=0.01, help="softmax temperature T of the soft targets")] = 4.0,
    alpha: Annotated[float, typer.Option(
        "--alpha", min=0, max=1, help="weight of the soft-target loss (1 - alpha: hard labels)")] = 0.9,
    epochs: Epochs = 12,
    batch_size: BatchSize = 128,
    lr: Lr = 0.05,
    warmup_steps: Warmup = 200,
    valid: Valid = 5000.0,
    crop_padding: CropPad = 2,
    hflip: HFlip = True,
    precision: Precision = "fp32",
    device: Device = "auto",
    threads: Threads = 0,
    seed: Seed = 1,
    json_out: Json = False,
) -> None:
    """Distill a smaller student from a teacher's soft targets; figures of teacher and student.

    \b
    Example: speechlang vision compress distill --teacher exp/resnet --model-opt widths=8,16,32 \\
             --train train.npz -d test.npz -o exp/student
    """
    from speechlang.vision.compress import distill as run_distill

    set_threads(threads)
    cfg = _config(arch=arch, model_opt=model_opt, epochs=epochs, batch_size=batch_size, lr=lr,
                  warmup_steps=warmup_steps, valid=valid, crop_padding=crop_padding, hflip=hflip, precision=precision,
                  device=device, seed=seed)
    _compress_report(run_distill(teacher, train_data, data, output_dir, cfg=cfg,
                                 temperature=temperature, alpha=alpha), json_out)

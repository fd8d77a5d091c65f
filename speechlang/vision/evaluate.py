"""Evaluation of a trained classifier: accuracy, per-class accuracy and the confusion matrix
(as text, and as a PNG heat map with the counts drawn in a built-in 3x5 pixel font).

    rep = evaluate_model(load_model("exp/resnet"), "t10k-images-idx3-ubyte.gz")
    print(format_report(rep)); write_png("confusion.png", render_confusion(rep["confusion"]))
"""

from __future__ import annotations

import numpy as np
import torch

from speechlang.errors import DataError
from speechlang.vision.data import ImageSet, load_images
from speechlang.vision.train import LoadedModel, model_device, predict_logits

# 3x5 bitmaps of the digits 0-9, one row of 3 bits per string character (top to bottom).
FONT = ["75557", "26227", "71747", "71717", "55711", "74717", "74757", "71111", "75757", "75717"]


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(K, K) int64 counts: row = true class, column = predicted class."""
    return np.bincount(np.asarray(y) * k + np.asarray(pred), minlength=k * k).reshape(k, k)


def report_from_confusion(cm: np.ndarray, classes: list[str]) -> dict:
    """Accuracy and per-class accuracy (recall) in percent from a confusion matrix."""
    total = cm.sum()
    support = cm.sum(1)
    per_class = {c: (100.0 * cm[i, i] / support[i] if support[i] else None) for i, c in enumerate(classes)}
    return {"accuracy": 100.0 * np.trace(cm) / total if total else 0.0, "n": int(total),
            "per_class": per_class, "classes": list(classes), "confusion": cm.tolist()}


def images_tensor(lm: LoadedModel, ds: ImageSet) -> torch.Tensor:
    """The set's images preprocessed as the model was trained, on the model's device."""
    from speechlang.vision.preprocess import preprocess

    if tuple(ds.shape) != lm.image_shape:
        raise DataError(f"{ds.source}: images are {'x'.join(map(str, ds.shape))} but the model "
                        f"{lm.path} takes {'x'.join(map(str, lm.image_shape))}; pass "
                        "--on-size-mismatch resize (folders) or convert the data")
    return preprocess(torch.from_numpy(ds.x).to(model_device(lm)), lm.preprocess, lm.stats)


def probabilities(lm: LoadedModel, ds: ImageSet, batch_size: int = 1000) -> torch.Tensor:
    """(N, K) softmax probabilities of the model on the set (CPU float32)."""
    logits = predict_logits(lm.model, images_tensor(lm, ds), batch_size=batch_size,
                            channels_last=lm.channels_last, tta=lm.tta)
    return torch.softmax(logits, 1)


def load_eval_set(lm: LoadedModel, path: str, on_size_mismatch: str = "error") -> ImageSet:
    """Labelled images checked against the model: labels in its class range, its image size."""
    return load_images(path, num_classes=len(lm.classes), classes=lm.classes,
                       size=tuple(lm.model.image_size), on_size_mismatch=on_size_mismatch)


def evaluate_model(lm: LoadedModel, path: str, *, batch_size: int = 1000,
                   on_size_mismatch: str = "error") -> dict:
    """Accuracy, per-class accuracy and confusion matrix of `lm` on the images at `path`."""
    ds = load_eval_set(lm, path, on_size_mismatch)
    pred = probabilities(lm, ds, batch_size).argmax(1).numpy()
    rep = report_from_confusion(confusion_matrix(ds.y, pred, len(lm.classes)), lm.classes)
    rep["data"] = str(path)
    return rep


def format_report(rep: dict) -> str:
    """Accuracy, per-class accuracy and the confusion matrix as aligned text."""
    classes, cm = rep["classes"], np.asarray(rep["confusion"])
    lines = [f"accuracy\t{rep['accuracy']:.2f}\t({rep['n']} images)", "", "class\taccuracy\tsupport"]
    for i, c in enumerate(classes):
        acc = rep["per_class"][c]
        lines.append(f"{c}\t{'-' if acc is None else f'{acc:.2f}'}\t{int(cm[i].sum())}")
    width = max(5, len(str(cm.max(initial=0))) + 1)
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
              " " * 4 + "".join(f"{j:>{width}}" for j in range(len(classes)))]
    for i, c in enumerate(classes):
        lines.append(f"{i:>3} " + "".join(f"{v:>{width}}" for v in cm[i]) + f"  {c}")
    return "\n".join(lines)


def _draw_number(img: np.ndarray, value: int, cy: int, cx: int, colour: int, scale: int) -> None:
    text = str(value)
    w = (4 * len(text) - 1) * scale
    x0, y0 = cx - w // 2, cy - 5 * scale // 2
    for k, ch in enumerate(text):
        for r, bits in enumerate(FONT[int(ch)]):
            for b in range(3):
                if int(bits) >> (2 - b) & 1:
                    y, x = y0 + r * scale, x0 + (4 * k + b) * scale
                    img[y:y + scale, x:x + scale] = colour


def render_confusion(cm: np.ndarray | list, cell: int = 0) -> np.ndarray:
    """A (H, W, 3) uint8 heat map of a confusion matrix normalized per true class (row), white
    (0) to dark blue (1), with the counts written in each cell and class indices on the axes."""
    cm = np.asarray(cm, np.int64)
    k = len(cm)
    digits = len(str(max(int(cm.max(initial=0)), k)))
    scale = 2
    cell = cell or max(24, (4 * digits + 2) * scale)
    margin = cell
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    img = np.full((margin + k * cell, margin + k * cell, 3), 255, np.uint8)
    blue = np.array([8, 48, 107], np.float64)
    for i in range(k):
        for j in range(k):
            colour = (255 - frac[i, j] * (255 - blue)).astype(np.uint8)
            y, x = margin + i * cell, margin + j * cell
            img[y:y + cell, x:x + cell] = colour
            img[y:y + cell, x] = img[y, x:x + cell] = 200
            ink = 255 if frac[i, j] > 0.5 else 0
            _draw_number(img, int(cm[i, j]), y + cell // 2, x + cell // 2, ink, scale)
        _draw_number(img, i, margin + i * cell + cell // 2, margin // 2, 0, scale)
        _draw_number(img, i, margin // 2, margin + i * cell + cell // 2, 0, scale)
    return img

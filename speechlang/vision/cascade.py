"""Cascade inference (Viola and Jones 2001, for classifiers): a cheap model answers when its top
probability reaches a threshold, otherwise the input goes on to the large model.

    rep = cascade_evaluate(load_model("exp/lenet"), load_model("exp/resnet"), "test.gz", 0.9)
"""

from __future__ import annotations

import time

import numpy as np
import torch

from speechlang.errors import ConfigError, DataError
from speechlang.vision.data import ImageSet
from speechlang.vision.evaluate import load_eval_set, probabilities
from speechlang.vision.train import LoadedModel


def cascade_predict(small: LoadedModel, large: LoadedModel, ds: ImageSet, threshold: float,
                    batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray, dict]:
    """(predictions (N,), routed-to-large mask (N,), timings in seconds)."""
    if not 0 <= threshold <= 1:
        raise ConfigError(f"--threshold must be a probability in [0, 1], got {threshold}")
    if small.classes != large.classes:
        raise DataError(f"{small.path} and {large.path} have different classes")
    t0 = time.perf_counter()
    p_small = probabilities(small, ds, batch_size)
    conf, pred = p_small.max(1)
    hard = (conf < threshold).numpy()
    t1 = time.perf_counter()
    pred = pred.numpy().copy()
    if hard.any():
        sub = ImageSet(ds.x[hard], ds.y[hard], ds.classes, ds.source)
        pred[hard] = probabilities(large, sub, batch_size).argmax(1).numpy()
    t2 = time.perf_counter()
    return pred, hard, {"small_s": t1 - t0, "large_s": t2 - t1}


def cascade_evaluate(small: LoadedModel, large: LoadedModel, path: str, threshold: float, *,
                     batch_size: int = 1000, on_size_mismatch: str = "error") -> dict:
    """Accuracy of the cascade, of each model alone, and the share sent to the large model."""
    ds = load_eval_set(small, path, on_size_mismatch)
    pred, hard, secs = cascade_predict(small, large, ds, threshold, batch_size)
    with torch.no_grad():
        t0 = time.perf_counter()
        large_pred = probabilities(large, ds, batch_size).argmax(1).numpy()
        large_s = time.perf_counter() - t0
        small_pred = probabilities(small, ds, batch_size).argmax(1).numpy()
    n = len(ds)
    return {"accuracy": float((pred == ds.y).mean() * 100), "share_large": float(hard.mean() * 100),
            "small_accuracy": float((small_pred == ds.y).mean() * 100),
            "large_accuracy": float((large_pred == ds.y).mean() * 100),
            "threshold": threshold, "n": n,
            "cascade_ms_per_image": 1000 * (secs["small_s"] + secs["large_s"]) / n,
            "large_ms_per_image": 1000 * large_s / n}

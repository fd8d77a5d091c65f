"""Prediction on image files: the label and class probabilities of each file.

    for rec in predict_files(load_model("exp/resnet"), ["a.png", "b.pgm"]):
        print(rec["file"], rec["label"], rec["prob"])
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from speechlang import log
from speechlang.errors import ConfigError, DataError, SpeechlangError
from speechlang.vision.data import ImageSet, read_image, stack_images
from speechlang.vision.evaluate import probabilities
from speechlang.vision.train import LoadedModel

ON_ERROR = ("error", "warn", "skip")


def predict_files(lm: LoadedModel, files: list[str], *, batch_size: int = 256, top_k: int = 1,
                  on_size_mismatch: str = "error", on_error: str = "error",
                  min_success: float = 0.95) -> Iterator[dict]:
    """Yield {"file", "label", "prob", "top": [(label, prob), ...]} per file, in order.

    Unreadable files raise under on_error="error"; otherwise they are skipped (with a warning
    under "warn"), and the run fails when fewer than `min_success` of the files were read.
    """
    if on_error not in ON_ERROR:
        raise ConfigError(f"--on-error must be one of {', '.join(ON_ERROR)}")
    if not files:
        raise DataError("no image files given; pass paths as arguments or one per line on --input")
    k = len(lm.classes)
    top_k = max(1, min(top_k, k))
    c, h, w = lm.image_shape
    ok = 0
    for start in range(0, len(files), batch_size):
        images, names = [], []
        for f in files[start:start + batch_size]:
            try:
                im = read_image(f)
                images.append(stack_images([im], [f], size=(h, w), on_size_mismatch=on_size_mismatch,
                                           channels=c)[0])
                names.append(f)
            except SpeechlangError as e:
                if on_error == "error":
                    raise
                if on_error == "warn":
                    log.warn(f"skipped: {e}")
        if not images:
            continue
        ok += len(images)
        ds = ImageSet(np.stack(images), np.zeros(len(images), np.int64), lm.classes, "files")
        probs = probabilities(lm, ds, batch_size)
        top_p, top_i = torch.topk(probs, top_k, dim=1)
        for name, ps, ix in zip(names, top_p.tolist(), top_i.tolist(), strict=True):
            yield {"file": name, "label": lm.classes[ix[0]], "prob": ps[0],
                   "top": [(lm.classes[i], p) for i, p in zip(ix, ps, strict=True)]}
    if ok < min_success * len(files):
        raise DataError(f"only {ok} of {len(files)} image files could be read; see the warnings")

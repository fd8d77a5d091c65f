"""The same preprocessing, augmentation and model on CUDA as on the CPU (skipped without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechlang.vision.augment import AugmentConfig, augment, epoch_generator
from speechlang.vision.preprocess import PreprocessConfig, fit_stats, preprocess
from speechlang.vision.registry import build_model

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@requires_cuda
def test_preprocess_on_cuda_matches_cpu():
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (8, 1, 28, 28), dtype=np.uint8))
    cfg = PreprocessConfig(gcn=True, lcn=True)
    stats = fit_stats(x, cfg)
    cpu = preprocess(x, cfg, stats)
    gpu = preprocess(x.cuda(), cfg, stats)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)


@requires_cuda
def test_augment_and_model_on_cuda():
    x = torch.rand(16, 1, 28, 28, device="cuda")
    cfg = AugmentConfig(crop_padding=2, hflip=True, translate=1.0)
    a = augment(x, cfg, epoch_generator(1, 0, 0, x.device))
    b = augment(x, cfg, epoch_generator(1, 0, 0, x.device))
    assert a.device.type == "cuda" and a.shape == x.shape and torch.equal(a, b)
    m = build_model("resnet", in_channels=1, num_classes=10, image_size=(28, 28)).eval()
    with torch.no_grad():
        want = m(a.cpu())
        got = m.cuda()(a)
    torch.testing.assert_close(got.cpu(), want, rtol=1e-3, atol=1e-3)

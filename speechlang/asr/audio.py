"""Audio input: read WAV/FLAC/OGG with soundfile, mix to mono, resample (windowed sinc, torch),
change speed.

    x = load_audio("a.flac", rate=16000)   # float32 (samples,), in [-1, 1)
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np
import soundfile
import torch

from speechlang.errors import DataError


@lru_cache(maxsize=16)
def _sinc_kernel(orig: int, new: int, width_zeros: int = 6, rolloff: float = 0.99):
    """Polyphase windowed-sinc kernel (new, 1, taps) for orig->new (both already divided by gcd).

    The same construction as torchaudio.functional.resample (Hann window, `width_zeros`
    zero crossings, cut-off at `rolloff` times the lower Nyquist rate).
    """
    base = min(orig, new) * rolloff
    width = math.ceil(width_zeros * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float64)[:, None, None] / new + idx
    t = (t * base).clamp(-width_zeros, width_zeros)
    window = torch.cos(t * math.pi / width_zeros / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, 1, t))
    return (kernel * window * base / orig).to(torch.float32), width


def resample(x: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """(..., samples) at orig_rate -> (..., ceil(samples * new/orig)) at new_rate. CPU or CUDA."""
    if orig_rate == new_rate:
        return x
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    kernel, width = _sinc_kernel(orig, new)
    shape = x.shape
    x = x.reshape(-1, shape[-1])
    y = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (width, width + orig))[:, None],
                                   kernel.to(x.device, x.dtype), stride=orig)
    y = y.transpose(1, 2).reshape(x.shape[0], -1)[:, :math.ceil(new * shape[-1] / orig)]
    return y.reshape(*shape[:-1], -1)


def change_speed(x: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """(samples,) at `rate` Hz -> (ceil(samples / factor),): the audio played `factor` times
    faster, tempo and pitch together (sox `speed`, Kaldi's speed perturbation)."""
    if factor == 1.0:
        return x
    return resample(torch.from_numpy(x), round(rate * factor), rate).numpy()


def load_audio(path: str | os.PathLike, rate: int, start: float = 0.0, end: float = -1.0,
               name: str | None = None) -> np.ndarray:
    """Samples of a file (or of [start, end) seconds of it) as float32 mono at `rate` Hz.

    Multi-channel audio is averaged to mono. Raises DataError naming `name` (an utterance id)
    on a missing, unreadable or empty file.
    """
    who = f"{name}: " if name else ""
    try:
        info = soundfile.info(str(path))
        first = int(round(start * info.samplerate))
        last = -1 if end < 0 else int(round(end * info.samplerate))
        x, sr = soundfile.read(str(path), dtype="float32", always_2d=True, start=first,
                               stop=None if last < 0 else last)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        reason = "no such file" if not os.path.exists(path) else str(e).split("\n")[0]
        reason = reason.split("': ")[-1].rstrip(".")  # drop libsndfile's repeat of the path
        raise DataError(f"{who}cannot read audio {path}: {reason}") from None
    if x.shape[0] == 0:
        raise DataError(f"{who}audio {path} is empty (0 samples)")
    x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if not np.isfinite(x).all():
        raise DataError(f"{who}audio {path} contains NaN or infinite samples")
    if sr != rate:
        x = resample(torch.from_numpy(np.ascontiguousarray(x)), sr, rate).numpy()
    return np.ascontiguousarray(x, dtype=np.float32)

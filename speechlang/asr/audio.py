"""Audio input: read WAV/FLAC/OGG with soundfile, from a file or from the output of a command
(Kaldi's piped wav.scp entries), mix to mono, resample (windowed sinc, torch), change speed,
reverberate and add noise (data augmentation).

    x = load_audio("a.flac", rate=16000)   # float32 (samples,), in [-1, 1)
    x = load_audio(Pipe("sox a.sph -t wav -"), rate=16000)
"""

from __future__ import annotations

import io
import math
import os
import struct
import subprocess
from functools import lru_cache

import numpy as np
import soundfile
import torch

from speechlang import log
from speechlang.asr.datadir import Pipe
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


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def reverberate(x: np.ndarray, rate: int, rt60: float, drr_db: float,
                gen: np.random.Generator) -> np.ndarray:
    """(samples,) -> (samples,): x convolved with a synthetic room impulse response, rescaled
    to x's RMS, its tail past the end cut (Kaldi's wav-reverberate with shift-output).

    The response follows Polack's statistical model: a unit direct path, then from 1 ms on
    Gaussian noise whose envelope falls by 60 dB over `rt60` seconds, scaled so that the
    direct path's energy is `drr_db` dB above the tail's (the direct-to-reverberant ratio).
    """
    if rt60 <= 0 or x.size == 0:
        return x
    t = np.arange(1, round(rt60 * rate) + 1) / rate + 1e-3
    tail = gen.standard_normal(t.size) * np.exp(-3 * math.log(10) * t / rt60)
    tail *= math.sqrt(10 ** (-drr_db / 10) / np.sum(tail * tail))
    h = np.concatenate([[1.0], np.zeros(round(1e-3 * rate) - 1), tail])
    n = x.size + h.size - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[:x.size]
    return (y * (_rms(x) / max(_rms(y), 1e-12))).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, beta: float, gen: np.random.Generator) -> np.ndarray:
    """(samples,) -> (samples,): x plus Gaussian noise whose power spectrum falls as 1/f^beta
    (0 white, 1 pink, 2 brown), its power `snr_db` dB below x's mean power."""
    if x.size == 0:
        return x
    spec = np.fft.rfft(gen.standard_normal(x.size))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0  # no infinite power at DC
    noise = np.fft.irfft(spec * f ** (-beta / 2), x.size)
    noise *= _rms(x) * 10 ** (-snr_db / 20) / max(_rms(noise), 1e-12)
    return (x + noise).astype(np.float32)


def _streamed_wav(data: bytes) -> bytes:
    """A WAV written to a pipe may carry 0 or 0xFFFFFFFF as its RIFF and data sizes (the length
    was unknown when the header was written): set them from the bytes actually there."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if cid == b"data":
            left = len(data) - pos - 8
            if size == 0 or size > left:
                out = bytearray(data)
                struct.pack_into("<I", out, pos + 4, left)
                struct.pack_into("<I", out, 4, len(data) - 8)
                return bytes(out)
            return data
        pos += 8 + size + (size & 1)
    return data


@lru_cache(maxsize=1)
def _pipe_output(pipe: Pipe) -> bytes:
    """The standard output of the command. The last one is kept, so that the segments of one
    recording (consecutive in C order) run its command once."""
    r = subprocess.run(["/bin/sh", "-c", pipe.command], capture_output=True,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DataError(f"command `{pipe}` failed (exit status {r.returncode})"
                        + (f": {msg[-1]}" if msg else ""))
    if not r.stdout:
        raise DataError(f"command `{pipe}` wrote no audio")
    return _streamed_wav(r.stdout)


def read_audio(source: str | os.PathLike | Pipe, start: float = 0.0, end: float = -1.0,
               name: str | None = None) -> tuple[np.ndarray, int]:
    """Samples of a file or command output (or of [start, end) seconds of it) as float32 mono at
    the source's own rate, and that rate (Hz).

    Multi-channel audio is averaged to mono. Raises DataError naming `name` (an utterance id)
    on a missing, unreadable or empty source, or a command that fails.
    """
    who = f"{name}: " if name else ""
    try:
        f = io.BytesIO(_pipe_output(source)) if isinstance(source, Pipe) else str(source)
    except DataError as e:
        raise DataError(f"{who}{e}") from None
    try:
        info = soundfile.info(f)
        first = int(round(start * info.samplerate))
        last = -1 if end < 0 else int(round(end * info.samplerate))
        if isinstance(f, io.BytesIO):
            f.seek(0)
        x, sr = soundfile.read(f, dtype="float32", always_2d=True, start=first,
                               stop=None if last < 0 else last)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        missing = not isinstance(source, Pipe) and not os.path.exists(source)
        reason = "no such file" if missing else str(e).split("\n")[0]
        reason = reason.split("': ")[-1].rstrip(".")  # drop libsndfile's repeat of the path
        what = f"from the output of `{source}`" if isinstance(source, Pipe) else str(source)
        raise DataError(f"{who}cannot read audio {what}: {reason}") from None
    if x.shape[0] == 0:
        raise DataError(f"{who}audio {source} is empty (0 samples)")
    x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if not np.isfinite(x).all():
        raise DataError(f"{who}audio {source} contains NaN or infinite samples")
    return np.ascontiguousarray(x, dtype=np.float32), sr


def load_audio(source: str | os.PathLike | Pipe, rate: int, start: float = 0.0, end: float = -1.0,
               name: str | None = None, announced: set[int] | None = None) -> np.ndarray:
    """read_audio resampled to `rate` Hz: float32 (samples,). A source at another rate gets an
    info line (with `announced`, once per rate: the rates already reported, updated)."""
    x, sr = read_audio(source, start, end, name)
    if sr == rate:
        return x
    if announced is None or sr not in announced:
        log.info(f"{name or source}: audio at {sr} Hz, resampling to {rate} Hz")
        if announced is not None:
            announced.add(sr)
    return np.ascontiguousarray(resample(torch.from_numpy(x), sr, rate).numpy(), dtype=np.float32)

"""Kaldi-compatible MFCC and log-mel filterbank features, deltas and CMVN, in torch (CPU or GPU).

    feats = mfcc(torch.from_numpy(samples), FeatureConfig())   # (frames, 13)

The definitions follow Kaldi's src/feat (feature-window.cc, mel-computations.cc,
feature-mfcc.cc): samples scaled to the 16-bit range, frames of 25 ms every 10 ms with
snip-edges (1 + (N - 400) // 160 frames at 16 kHz), optional dither, DC removal, log energy
of the raw frame, pre-emphasis x[i] -= 0.97 x[i-1] (x[0] -= 0.97 x[0]), a povey window
(0.5 - 0.5 cos(2 pi n / (N-1)))^0.85, FFT padded to a power of two, power spectrum,
triangular mel filters on mel(f) = 1127 ln(1 + f/700) between 20 Hz and Nyquist, log floored
at float32 epsilon, orthonormal DCT-II, cepstral liftering 1 + Q/2 sin(pi i / Q) and the log
energy in place of c0. Deltas use Kaldi's add-deltas window (N=2, edge frames repeated).
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from speechlang import log
from speechlang.accel import resolve_device
from speechlang.asr.audio import add_noise, change_speed, load_audio, reverberate
from speechlang.asr.datadir import read_datadir, validate_datadir
from speechlang.asr.featfile import write_feats
from speechlang.errors import ConfigError, DataError, SpeechlangError
from speechlang.io import atomic_dir

EPS = float(torch.finfo(torch.float32).eps)


@dataclass(frozen=True)
class FeatureConfig:
    kind: str = "mfcc"  # mfcc or fbank
    sample_rate: int = 16000  # Hz; audio at other rates is resampled
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0  # Gaussian noise std in 16-bit units; 0 = off (deterministic)
    preemph: float = 0.97
    window: str = "povey"  # povey, hamming, hanning or rectangular
    remove_dc: bool = True
    num_mel_bins: int = 23  # 23 for MFCC, 40 is usual for fbank
    low_freq: float = 20.0  # Hz
    high_freq: float = 0.0  # Hz; <= 0 means Nyquist + high_freq
    num_ceps: int = 13
    cepstral_lifter: float = 22.0
    use_energy: bool = True  # MFCC: log energy replaces c0; fbank: appended as first column
    raw_energy: bool = True  # energy before pre-emphasis and windowing
    delta_order: int = 2  # 0 = statics only, 1 = + deltas, 2 = + delta-deltas
    delta_window: int = 2
    cmvn: str = "speaker"  # speaker, utterance or none
    cmvn_frames: str = "all"  # all, or speech: CMVN statistics over the speech frames only
    norm_vars: bool = False  # CMVN: also scale to unit variance (Kaldi's default is means only)
    vtln_warp: float = 1.0  # VTLN warp factor of the mel filter edges (1 = none)
    vtln_low: float = 100.0  # Hz; lower inflection point of the piecewise-linear warp
    vtln_high: float = -500.0  # Hz; upper inflection point; <= 0 means Nyquist + vtln_high
    speed: float = 1.0  # speed perturbation: audio played this many times faster (1 = none)
    reverb: float = 0.0  # RT60 in seconds of a synthetic room response (0 = none); see augment
    noise_snr: float | None = None  # dB; additive colored Gaussian noise (None = none); see augment

    def __post_init__(self):
        if self.kind not in ("mfcc", "fbank"):
            raise ConfigError(f"--kind {self.kind!r}: use mfcc or fbank")
        if self.window not in ("povey", "hamming", "hanning", "rectangular"):
            raise ConfigError(f"--window {self.window!r}: use povey, hamming, hanning or rectangular")
        if self.cmvn not in ("speaker", "utterance", "none"):
            raise ConfigError(f"--cmvn {self.cmvn!r}: use speaker, utterance or none")
        if self.cmvn_frames not in ("all", "speech"):
            raise ConfigError(f"--cmvn-frames {self.cmvn_frames!r}: use all or speech")
        if self.sample_rate <= 0 or self.frame_shift_ms <= 0 or self.frame_length_ms <= 0:
            raise ConfigError("sample rate and frame sizes must be positive")
        if self.kind == "mfcc" and not 0 < self.num_ceps <= self.num_mel_bins:
            raise ConfigError(f"--num-ceps {self.num_ceps} must be in 1..--num-mel-bins")
        nyq = self.sample_rate / 2
        high = self.high_freq if self.high_freq > 0 else nyq + self.high_freq
        if not 0 <= self.low_freq < high <= nyq:
            raise ConfigError(f"mel range {self.low_freq}..{high} Hz is not inside 0..{nyq} Hz")
        if not 0.5 <= self.vtln_warp <= 2.0:
            raise ConfigError(f"--vtln-warp {self.vtln_warp}: use a factor in 0.5..2")
        if not 0.5 <= self.speed <= 2.0:
            raise ConfigError(f"--speed {self.speed}: use a factor in 0.5..2")
        if not 0 <= self.reverb <= 2.0:
            raise ConfigError(f"--reverb {self.reverb}: use an RT60 in 0..2 seconds")
        if self.noise_snr is not None and not -10 <= self.noise_snr <= 60:
            raise ConfigError(f"--noise-snr {self.noise_snr}: use an SNR in -10..60 dB")
        if not 0 <= self.delta_order <= 3:
            raise ConfigError("--delta-order must be 0..3")

    @property
    def frame_length(self) -> int:
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def frame_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms / 1000)

    @property
    def static_dim(self) -> int:
        if self.kind == "mfcc":
            return self.num_ceps
        return self.num_mel_bins + int(self.use_energy)

    @property
    def dim(self) -> int:
        return self.static_dim * (1 + self.delta_order)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        """The config of a feature dir's or model dir's `features` (keys it lacks: defaults)."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@lru_cache(maxsize=32)
def window_function(kind: str, n: int, dtype=torch.float64) -> torch.Tensor:
    """Kaldi's FeatureWindowFunction, (n,)."""
    i = torch.arange(n, dtype=dtype)
    a = 2 * math.pi / (n - 1)
    if kind == "povey":
        return (0.5 - 0.5 * torch.cos(a * i)) ** 0.85
    if kind == "hamming":
        return 0.54 - 0.46 * torch.cos(a * i)
    if kind == "hanning":
        return 0.5 - 0.5 * torch.cos(a * i)
    return torch.ones(n, dtype=dtype)


def mel_scale(f):
    return 1127.0 * torch.log1p(torch.as_tensor(f, dtype=torch.float64) / 700.0)


def vtln_warp_freq(f: torch.Tensor, warp: float, low: float, high: float,
                   vtln_low: float, vtln_high: float) -> torch.Tensor:
    """Kaldi's VtlnWarpFreq: piecewise-linear warp of frequencies f (Hz) by 1/warp between the
    inflection points, linear to the fixed ends low and high (Hz); frequencies outside stay."""
    lo, hi = vtln_low * max(1.0, warp), vtln_high * min(1.0, warp)
    scale = 1.0 / warp
    f_lo, f_hi = scale * lo, scale * hi
    left = low + (f_lo - low) / (lo - low) * (f - low)
    right = high + (high - f_hi) / (high - hi) * (f - high)
    out = torch.where(f < lo, left, torch.where(f < hi, scale * f, right))
    return torch.where((f < low) | (f > high), f, out)


def inverse_mel_scale(m):
    return 700.0 * torch.expm1(torch.as_tensor(m, dtype=torch.float64) / 1127.0)


@lru_cache(maxsize=64)
def mel_banks(num_bins: int, padded: int, rate: float, low: float, high: float,
              warp: float = 1.0, vtln_low: float = 100.0, vtln_high: float = -500.0) -> torch.Tensor:
    """Kaldi's MelBanks as a (num_bins, padded//2 + 1) weight matrix (Nyquist column zero);
    warp != 1 moves the filter edges by VTLN (vtln_warp_freq), as Kaldi's vtln-warp."""
    nyq = 0.5 * rate
    if high <= 0:
        high += nyq
    if vtln_high <= 0:
        vtln_high += nyq
    n_fft = padded // 2
    mel_low, mel_high = mel_scale(low), mel_scale(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    mel = mel_scale(torch.arange(n_fft, dtype=torch.float64) * rate / padded)  # (n_fft,)
    b = torch.arange(num_bins, dtype=torch.float64)[:, None]
    left, center, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
    if warp != 1.0:
        left, center, right = (mel_scale(vtln_warp_freq(inverse_mel_scale(m), warp, low, high,
                                                        vtln_low, vtln_high))
                               for m in (left, center, right))
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    w = torch.where(mel <= center, up, down)
    w = torch.where((mel > left) & (mel < right), w, torch.zeros_like(w))
    return torch.cat([w, torch.zeros(num_bins, 1, dtype=w.dtype)], dim=1)


@lru_cache(maxsize=32)
def dct_matrix(num_ceps: int, n: int) -> torch.Tensor:
    """Orthonormal DCT-II rows 0..num_ceps-1, (num_ceps, n) (Kaldi's ComputeDctMatrix)."""
    k = torch.arange(num_ceps, dtype=torch.float64)[:, None]
    j = torch.arange(n, dtype=torch.float64)[None, :]
    m = math.sqrt(2.0 / n) * torch.cos(math.pi / n * (j + 0.5) * k)
    m[0] = math.sqrt(1.0 / n)
    return m


@lru_cache(maxsize=32)
def lifter_coeffs(num_ceps: int, q: float) -> torch.Tensor:
    i = torch.arange(num_ceps, dtype=torch.float64)
    return 1.0 + 0.5 * q * torch.sin(math.pi * i / q) if q > 0 else torch.ones(num_ceps, dtype=torch.float64)


def _frames(x: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """(samples,) -> (frames, frame_length) with snip-edges."""
    n, shift = cfg.frame_length, cfg.frame_shift
    if x.shape[-1] < n:
        return x.new_zeros((0, n))
    return x.unfold(0, n, shift)


def _spectrum(x: torch.Tensor, cfg: FeatureConfig, generator: torch.Generator | None):
    """(samples,) float -> (power spectrum (frames, padded/2+1), log energy (frames,)), float32
    as Kaldi's BaseFloat."""
    frames = _frames(x.to(torch.float32) * 32768.0, cfg)
    if cfg.dither > 0:
        noise = torch.randn(frames.shape, generator=generator, dtype=torch.float32)
        frames = frames + cfg.dither * noise.to(frames.device)
    if cfg.remove_dc:
        frames = frames - frames.mean(dim=1, keepdim=True)
    log_energy = None
    if cfg.raw_energy:
        log_energy = torch.log(torch.clamp((frames * frames).sum(1), min=EPS))
    if cfg.preemph != 0:
        prev = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
        frames = frames - cfg.preemph * prev
    frames = frames * window_function(cfg.window, cfg.frame_length).to(frames.device, frames.dtype)
    if not cfg.raw_energy:
        log_energy = torch.log(torch.clamp((frames * frames).sum(1), min=EPS))
    padded = 1 << (cfg.frame_length - 1).bit_length()
    spec = torch.fft.rfft(frames, n=padded)
    power = spec.real ** 2 + spec.imag ** 2
    return power, log_energy


def fbank(x: torch.Tensor, cfg: FeatureConfig, generator=None) -> torch.Tensor:
    """Log-mel filterbank energies: (samples,) in [-1, 1) -> (frames, [1 +] num_mel_bins) float32."""
    power, log_e = _spectrum(x, cfg, generator)
    padded = 1 << (cfg.frame_length - 1).bit_length()
    banks = mel_banks(cfg.num_mel_bins, padded, cfg.sample_rate, cfg.low_freq, cfg.high_freq,
                      cfg.vtln_warp, cfg.vtln_low, cfg.vtln_high)
    mel = torch.log(torch.clamp(power @ banks.to(power.device, power.dtype).T, min=EPS))
    if cfg.kind == "fbank" and cfg.use_energy:
        mel = torch.cat([log_e[:, None], mel], dim=1)
    return mel.to(torch.float32)


def mfcc(x: torch.Tensor, cfg: FeatureConfig, generator=None) -> torch.Tensor:
    """MFCCs: (samples,) in [-1, 1) -> (frames, num_ceps) float32; c0 is the log energy if use_energy."""
    power, log_e = _spectrum(x, cfg, generator)
    padded = 1 << (cfg.frame_length - 1).bit_length()
    banks = mel_banks(cfg.num_mel_bins, padded, cfg.sample_rate, cfg.low_freq, cfg.high_freq,
                      cfg.vtln_warp, cfg.vtln_low, cfg.vtln_high)
    dev = power.device
    mel = torch.log(torch.clamp(power @ banks.to(dev, power.dtype).T, min=EPS))
    ceps = mel @ dct_matrix(cfg.num_ceps, cfg.num_mel_bins).to(dev, mel.dtype).T
    ceps = ceps * lifter_coeffs(cfg.num_ceps, cfg.cepstral_lifter).to(dev, mel.dtype)
    if cfg.use_energy:
        ceps[:, 0] = log_e
    return ceps.to(torch.float32)


def static_features(x: torch.Tensor, cfg: FeatureConfig, generator=None) -> torch.Tensor:
    return mfcc(x, cfg, generator) if cfg.kind == "mfcc" else fbank(x, cfg, generator)


def speech_frames(x: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """(samples,) -> (frames,) bool: an energy VAD for the CMVN statistics. A frame is speech
    when its log energy is above the midpoint of the utterance's 10th and 90th percentiles
    (between its noise floor and its vowels, whatever the gain); all frames when none is
    (a signal of constant energy)."""
    frames = _frames(x.to(torch.float64), cfg)
    log_e = torch.log((frames - frames.mean(1, keepdim=True)).pow(2).sum(1) + 1e-10)
    lo, hi = torch.quantile(log_e, torch.tensor([0.1, 0.9], dtype=log_e.dtype, device=log_e.device))
    mask = log_e > (lo + hi) / 2
    return mask if mask.any() else torch.ones_like(mask)


def cmvn_mask(x: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor | None:
    """The (frames,) bool frames of the samples `x` that cfg's CMVN statistics sum over; None
    for all of them (or no CMVN)."""
    return speech_frames(x, cfg) if cfg.cmvn != "none" and cfg.cmvn_frames == "speech" else None


@lru_cache(maxsize=32)
def delta_scales(order: int, window: int) -> list[torch.Tensor]:
    """Kaldi's DeltaFeatures filters: scales[k] is the (2*k*window+1,) filter of order k."""
    scales = [torch.ones(1, dtype=torch.float64)]
    base = torch.arange(-window, window + 1, dtype=torch.float64)
    base = base / (2 * (torch.arange(1, window + 1, dtype=torch.float64) ** 2).sum())
    for _ in range(order):
        prev = scales[-1]
        scales.append(torch.nn.functional.conv1d(
            torch.nn.functional.pad(prev[None, None], (len(base) - 1, len(base) - 1)),
            base.flip(0)[None, None])[0, 0])
    return scales


def add_deltas(feats: torch.Tensor, order: int = 2, window: int = 2) -> torch.Tensor:
    """(frames, d) -> (frames, d * (order + 1)); frames beyond the edges repeat the edge frame."""
    t = feats.shape[0]
    if order == 0 or t == 0:
        return feats
    out = [feats]
    x = feats.to(torch.float32)
    for s in delta_scales(order, window)[1:]:
        half = (len(s) - 1) // 2
        # edge frames repeated: pad by replication, then one 1-D convolution per column
        xp = torch.cat([x[:1].expand(half, -1), x, x[-1:].expand(half, -1)], dim=0)
        y = torch.nn.functional.conv1d(xp.T[:, None], s.to(x.device, x.dtype)[None, None])
        out.append(y[:, 0].T.to(feats.dtype))
    return torch.cat(out, dim=1)


def cmvn_stats(feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(frames, d) -> (3, d) float64: count, sum, sum of squares (Kaldi's cmvn stats, summed)
    over all frames or over those where the (frames,) bool `mask` is set."""
    x = feats.to(torch.float64)
    if mask is not None:
        x = x[mask]
    return torch.stack([torch.full((x.shape[1],), float(x.shape[0]), dtype=torch.float64,
                                   device=x.device), x.sum(0), (x * x).sum(0)])


def apply_cmvn(feats: torch.Tensor, stats: torch.Tensor, norm_vars: bool) -> torch.Tensor:
    """Subtract the mean (and divide by the std when norm_vars) given by `stats` (3, d)."""
    n = stats[0].clamp(min=1.0)
    mean = stats[1] / n
    out = feats.to(torch.float64) - mean
    if norm_vars:
        var = (stats[2] / n - mean * mean).clamp(min=1e-10)
        out = out / var.sqrt()
    return out.to(feats.dtype)


def augment(x: np.ndarray, cfg: FeatureConfig, utt: str, seed: int = 0) -> np.ndarray:
    """(samples,) at cfg.sample_rate -> the same length, reverberated then noised as cfg says
    (Kaldi's reverberate_data_dir order). Each utterance draws its own direct-to-reverberant
    ratio (uniform 0..10 dB) and noise color (1/f^beta, beta uniform 0..2: white to brown)
    from a generator seeded by (seed, utt), so a copy does not depend on the others."""
    if cfg.reverb <= 0 and cfg.noise_snr is None:
        return x
    gen = np.random.default_rng([seed, zlib.crc32(utt.encode())])
    drr, beta = gen.uniform(0.0, 10.0), gen.uniform(0.0, 2.0)
    if cfg.reverb > 0:
        x = reverberate(x, cfg.sample_rate, cfg.reverb, drr, gen)
    if cfg.noise_snr is not None:
        x = add_noise(x, cfg.noise_snr, beta, gen)
    return x


def compute_feats(data_dir, out_dir, cfg: FeatureConfig, device: str = "auto",
                  on_error: str = "error", seed: int = 0) -> dict:
    """Features of every utterance of a data dir into the feature dir `out_dir` (see featfile).

    CMVN stats are gathered per speaker or per utterance (cfg.cmvn) over the static features,
    applied, then deltas are appended. on_error: error (stop at the first unreadable utterance),
    warn or skip (leave it out; fails when under 95% succeed). Returns a summary dict.
    """
    if on_error not in ("error", "warn", "skip"):
        raise ConfigError(f"--on-error {on_error!r}: use error, warn or skip")
    d = read_datadir(data_dir)
    if on_error == "error":
        problems = validate_datadir(data_dir)
        if problems:
            raise DataError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)"
                                                       if len(problems) > 5 else ""))
    dev = resolve_device(device)
    gen = torch.Generator().manual_seed(seed)
    statics, masks, utts, seconds = [], [], [], 0.0
    t0 = time.perf_counter()
    prog = log.Progress("features", total=len(d.utts), unit="utt")
    rates: set[int] = set()
    for u in d.utts:
        try:
            path, start, end = d.source(u)
            x = change_speed(load_audio(path, cfg.sample_rate, start, end, name=u, announced=rates),
                             cfg.sample_rate, cfg.speed)
            x = augment(x, cfg, u, seed)
            if x.shape[0] < cfg.frame_length:
                raise DataError(f"{u}: audio {path} is shorter than one frame "
                                f"({x.shape[0]} samples < {cfg.frame_length})")
            xt = torch.from_numpy(x).to(dev)
            feats = static_features(xt, cfg, gen)
            mask = cmvn_mask(xt, cfg)
        except SpeechlangError as e:
            if on_error == "error":
                raise
            if on_error == "warn":
                log.warn(str(e))
            continue
        seconds += x.shape[0] / cfg.sample_rate
        statics.append(feats)
        masks.append(mask)
        utts.append(u)
        prog.update(1)
    prog.close()
    if not utts or len(utts) < 0.95 * len(d.utts):
        raise DataError(f"{data_dir}: features for only {len(utts)} of {len(d.utts)} utterances; "
                        "fix the data dir (speechlang asr validate)")
    if cfg.cmvn != "none":
        key = (lambda u: d.utt2spk[u]) if cfg.cmvn == "speaker" else (lambda u: u)
        stats: dict[str, torch.Tensor] = {}
        for u, f, m in zip(utts, statics, masks, strict=True):
            s = cmvn_stats(f, m)
            stats[key(u)] = stats[key(u)] + s if key(u) in stats else s
        statics = [apply_cmvn(f, stats[key(u)], cfg.norm_vars) for u, f in zip(utts, statics,
                                                                              strict=True)]
    out = [add_deltas(f, cfg.delta_order, cfg.delta_window).cpu().numpy() for f in statics]
    elapsed = time.perf_counter() - t0
    for u, f in zip(utts, out, strict=True):
        if not np.isfinite(f).all():
            raise DataError(f"{u}: features contain NaN or infinity")
    with atomic_dir(out_dir) as tmp:
        write_feats(Path(tmp), d, utts, out, cfg.to_dict())
    return {"utts": len(utts), "skipped": len(d.utts) - len(utts), "frames": int(sum(len(f) for f in out)),
            "dim": cfg.dim, "audio_s": round(seconds, 2), "elapsed_s": round(elapsed, 3),
            "x_realtime": round(seconds / max(elapsed, 1e-9), 1), "device": str(dev)}


PERTURBATIONS = ("dither", "vtln_warp", "speed", "reverb", "noise_snr")


def check_features(got: dict, want: dict, feat_dir, model_dir) -> None:
    """Features `got` must match the model's `want` but for dither, VTLN warp, speed, reverb and
    noise (the perturbations); keys newer than a feature file or model take their FeatureConfig
    default."""
    got = {**FeatureConfig().to_dict(), **got}
    diff = [k for k in want if got.get(k) != want[k] and k not in PERTURBATIONS]
    if diff:
        k = diff[0]
        raise DataError(f"{feat_dir} was made with {k}={got.get(k)!r} but {model_dir} expects "
                        f"{k}={want[k]!r}; recompute the features with the model's settings")

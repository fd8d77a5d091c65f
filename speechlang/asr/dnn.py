"""Hybrid DNN-HMM: a network over spliced frames predicting tied states, trained on alignments.

    train_dnn("exp/feats/train", "exp/tri_ali", "exp/tri", "exp/dnn", DNNConfig(), TrainConfig())
    am = read_dnn("exp/dnn"); ll = am.loglik(feats)          # (T, pdfs) scaled log-likelihoods

The network sees frames t-k..t+k (edge frames repeated) of the feature dir's features and
outputs log posteriors log p(s | x_t) over the tied states s of the GMM model's tree. For
decoding they become scaled log-likelihoods (Bourlard & Morgan's hybrid):

    log p(x_t | s) + const = acoustic_scale * (log p(s | x_t) - log p(s))

with the priors p(s) counted from the training alignments (add-one smoothed). Two
architectures: `dnn` (feed-forward: Linear + ReLU layers on the flattened window) and `tdnn`
(1-D convolutions over time, dilations 1, 2, ... as in Peddinti et al. 2015, then Linear).
Both run on chunks of consecutive frames, (B, L + 2k, D) -> (B, L, pdfs); the TDNN then
computes each convolution output once for all the frames of a chunk that need it, so training
(`--chunk`) and decoding it cost a few convolutions per frame instead of 15 per window.

A DNN model dir is a GMM model dir (model.json, gmm.npz, tree.json, phones.txt,
lexicon.txt: the HMM, tree and lexicon) plus:

    dnn.pt        the network weights (speechlang.accel checkpoint: {"model": state_dict})
    priors.npy    float64 (pdfs,) state priors
    dnn.json      {"format": "speechlang-dnn-hmm", "version": 1, "arch", "context", "hidden",
                   "layers", "input_dim", "num_pdfs", "acoustic_scale", "lm_weight", "fmllr",
                   "dropout", "features", "train": log}; fmllr: trained on speaker-adapted
                   features (decode --fmllr); features: the FeatureConfig of the network's
                   input, which may differ from model.json's (the GMM's, used by --fmllr)
    lm.arpa       (optional) the LM `transcribe` and `decode` use when none is given
    ckpt/         training checkpoints and metrics.jsonl (for --resume; not needed to decode)
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechlang import log
from speechlang.accel import (
    TrainConfig,
    derive_seed,
    fit,
    group_batches,
    index_batches,
    load_checkpoint,
    save_checkpoint,
    set_seed,
)
from speechlang.asr.alignfile import read_alignments
from speechlang.asr.featfile import read_feats
from speechlang.asr.features import (
    FeatureConfig,
    add_deltas,
    check_features,
    dct_matrix,
    lifter_coeffs,
)
from speechlang.asr.fmllr import apply_transform, read_transforms
from speechlang.asr.model import AcousticModel, read_model
from speechlang.errors import ConfigError, DataError, FormatError
from speechlang.io import atomic_output

FORMAT, VERSION = "speechlang-dnn-hmm", 1
ARCHS = ("dnn", "tdnn")
OBJECTIVES = ("ce", "mmi")
MODEL_PARTS = {"model.json": "HMM/model description", "gmm.npz": "GMM and transition "
               "probabilities", "tree.json": "state-tying tree", "phones.txt": "phone list",
               "lexicon.txt": "lexicon", "dnn.json": "DNN description", "dnn.pt": "DNN weights",
               "priors.npy": "state priors"}


@dataclass(frozen=True)
class DNNConfig:
    arch: str = "dnn"  # dnn (feed-forward) or tdnn (1-D convolutions over time)
    context: int = 5  # frames each side (splice +-context)
    hidden: int = 512
    layers: int = 3  # hidden layers
    batch_size: int = 256  # frames
    heldout: float = 0.1  # fraction of utterances held out for the frame accuracy
    acoustic_scale: float = 1.0  # stored as the default for decoding
    lm_weight: float = 10.0  # stored as the default for transcribe
    seed: int = 1
    realign: bool = False  # realign with the trained DNN and train a second network
    fmllr: bool = False  # train on features adapted by the GMM dir's per-speaker fMLLR (train-sat)
    dropout: float = 0.0  # dropout probability after each hidden layer (training only)
    chunk: int = 0  # frames per training chunk; 0: 1 for dnn (independent windows), 32 for tdnn
    speaker_batches: bool = False  # every batch from one speaker of one view (per-speaker BatchNorm)
    objective: str = "ce"  # ce (frame cross-entropy) or mmi (lattice-free MMI on chunks)
    mmi_scale: float = 1.0  # mmi: acoustic scale kappa of the scaled log-likelihoods
    mmi_ce: float = 0.1  # mmi: weight of the cross-entropy added to the MMI loss
    init: str = ""  # start from this DNN model dir's network (its arch and sizes)
    transfer: bool = False  # init: keep its hidden layers only; a new output layer for these pdfs
    freeze: int = 0  # init: its first `freeze` hidden layers are not trained
    freq_mask: int = 0  # SpecAugment: widest frequency mask, in mel bands (0: none)
    time_mask: int = 0  # SpecAugment: widest time mask, in frames (0: none)
    num_masks: int = 2  # SpecAugment: masks of each kind per training chunk
    spec_shift: float = 0.0  # SpectralShift: RMS in dB of each segment's log-mel curve (0: none)
    shift_frames: int = 10  # SpectralShift: mean segment length in frames
    spec_scale: tuple[float, float] = (1.0, 1.0)  # SpectralScale: range of the factor (1, 1: none)

    @property
    def chunk_frames(self) -> int:
        return self.chunk or (32 if self.arch == "tdnn" or self.objective == "mmi" else 1)

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ConfigError(f"--arch {self.arch!r}: use dnn or tdnn")
        if self.context < 0 or (self.arch == "tdnn" and self.context < 3):
            raise ConfigError("--context must be >= 0 (>= 3 for --arch tdnn)")
        if self.hidden < 1 or self.layers < 1 or self.batch_size < 1 or self.chunk < 0:
            raise ConfigError("--hidden, --layers and --batch-size must be >= 1, --chunk >= 0")
        if not 0 < self.heldout < 0.5:
            raise ConfigError("--heldout must be in (0, 0.5)")
        if self.acoustic_scale <= 0:
            raise ConfigError("--acoustic-scale must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout {self.dropout}: use a probability in [0, 1)")
        if self.fmllr and self.realign:
            raise ConfigError("--fmllr and --realign cannot be combined")
        if self.transfer and not self.init:
            raise ConfigError("--transfer needs --init (the model whose hidden layers to start from)")
        if self.freeze < 0 or (self.freeze and not self.init):
            raise ConfigError("--freeze must be >= 0 and needs --init (the model whose layers to keep)")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"--objective {self.objective!r}: use ce or mmi")
        if self.objective == "mmi" and (self.realign or self.chunk_frames < 2):
            raise ConfigError("--objective mmi needs --chunk >= 2 and no --realign")
        if self.mmi_scale <= 0 or self.mmi_ce < 0:
            raise ConfigError("--mmi-scale must be > 0 and --mmi-ce >= 0")
        if min(self.freq_mask, self.time_mask, self.num_masks) < 0:
            raise ConfigError("--freq-mask, --time-mask and --num-masks must be >= 0")
        if self.spec_shift < 0 or self.shift_frames < 1:
            raise ConfigError("--spec-shift must be >= 0 and --shift-frames >= 1")
        lo, hi = self.spec_scale
        if not 0 < lo <= hi:
            raise ConfigError(f"--spec-scale {lo} {hi}: use 0 < LO <= HI")
        if (self.freq_mask or self.spec_shift or self.spec_scale != (1.0, 1.0)) and self.fmllr:
            raise ConfigError("--freq-mask, --spec-shift and --spec-scale need MFCC or fbank input: "
                              "the --fmllr features are not in a mel domain (use --time-mask alone)")


class SplicedNet(nn.Module):
    """(B, L + 2k, D) chunks -> (B, L, pdfs) logits of their L inner frames (a window
    (B, 2k+1, D) gives (B, 1, pdfs)). Input mean/std normalization is a buffer.
    dropout > 0 adds a Dropout after each hidden layer (so a net without it keeps the
    parameter names of older model dirs)."""

    def __init__(self, arch: str, input_dim: int, context: int, hidden: int, layers: int,
                 num_pdfs: int, dropout: float = 0.0):
        super().__init__()
        self.arch, self.context = arch, context
        width = 2 * context + 1
        self.per_layer = per_layer = 4 if dropout > 0 else 3  # modules per hidden layer

        def drop() -> list[nn.Module]:
            return [nn.Dropout(dropout)] if dropout > 0 else []

        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("inv_std", torch.ones(input_dim))
        if arch == "dnn":
            dims = [input_dim * width] + [hidden] * layers
            body: list[nn.Module] = []
            for a, b in zip(dims[:-1], dims[1:], strict=True):
                body += [nn.Linear(a, b), nn.ReLU(), nn.LayerNorm(b)] + drop()
            self.body = nn.Sequential(*body)
        else:  # TDNN: kernel 3 with dilation 1, then 2, ... until one output frame is left
            body, left, d, c = [], width, 1, input_dim
            while left > 1:
                kk, d = (3, d) if left >= 1 + 2 * d else (left, 1)
                body += [nn.Conv1d(c, hidden, kk, dilation=d), nn.ReLU(), nn.BatchNorm1d(hidden)] + drop()
                left -= (kk - 1) * d
                c, d = hidden, 2
            for _ in range(max(0, layers - len(body) // per_layer)):
                body += [nn.Conv1d(hidden, hidden, 1), nn.ReLU(), nn.BatchNorm1d(hidden)] + drop()
            self.body = nn.Sequential(*body)
        self.out = nn.Linear(hidden, num_pdfs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * self.inv_std
        if self.arch == "dnn":  # (B, L, 2k+1, D) windows, flattened time-major
            w = x.unfold(1, 2 * self.context + 1, 1).transpose(2, 3)
            return self.out(self.body(w.flatten(2)))
        return self.out(self.body(x.transpose(1, 2)).transpose(1, 2))

    @property
    def hidden_layers(self) -> int:
        return len(self.body) // self.per_layer

    def freeze(self, n: int) -> None:
        """Stop training the first n hidden layers (their BatchNorm statistics still follow the
        data in train mode)."""
        for p in self.body[:n * self.per_layer].parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def adapt_batchnorm(self, utts: list[torch.Tensor] | None) -> None:
        """AdaBN (Li et al. 2016): set each BatchNorm's statistics to the per-channel mean
        and variance of its inputs over the padded (T + 2k, D) utterances `utts` (e.g. one
        speaker's), layer by layer, so each layer sees the earlier ones adapted; None puts
        back the trained statistics. Eval mode; TDNN only (the feed-forward net has none)."""
        bns = [m for m in self.body if isinstance(m, nn.BatchNorm1d)]
        if not hasattr(self, "trained_bn"):
            self.trained_bn = [(b.running_mean.clone(), b.running_var.clone()) for b in bns]
        if utts is None:
            for b, (mean, var) in zip(bns, self.trained_bn, strict=True):
                b.running_mean.copy_(mean)
                b.running_var.copy_(var)
            return
        hs = [((x - self.mean) * self.inv_std).T[None] for x in utts]  # (1, D, T + 2k) each
        for m in self.body:
            if isinstance(m, nn.BatchNorm1d):
                n = sum(h.shape[2] for h in hs)
                mean = sum(h[0].double().sum(1) for h in hs) / n
                var = sum(((h[0].double() - mean[:, None]) ** 2).sum(1) for h in hs) / n
                m.running_mean.copy_(mean.float())
                m.running_var.copy_(var.float())
            hs = [m(h) for h in hs]


def pad_utterance(x: np.ndarray, k: int) -> np.ndarray:
    """(T, D) -> (T + 2k, D) with the first and last frames repeated k times."""
    return np.concatenate([np.repeat(x[:1], k, 0), x, np.repeat(x[-1:], k, 0)]) if k else x


def splice(padded: torch.Tensor, centers: torch.Tensor, k: int, frames: int = 1) -> torch.Tensor:
    """Chunks (B, frames + 2k, D) of a padded (N, D) frame matrix whose first inner frames
    are the rows `centers` (B,); frames=1: the windows around them."""
    return padded[centers[:, None] + torch.arange(-k, k + frames, device=padded.device)]


def chunk_batch(X: torch.Tensor, Y: torch.Tensor, start: torch.Tensor, length: torch.Tensor,
                k: int, L: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training chunks: inputs (B, L + 2k, D) from the padded frames X (N, D) and targets
    (B, L) from Y (per row of X), for chunks whose first frame is row start[b] and which hold
    length[b] <= L frames of their utterance; the targets past them are -100 (ignored)."""
    y = Y[start[:, None] + torch.arange(L)]
    y[torch.arange(L) >= length[:, None]] = -100
    return splice(X, start, k, L), y


class SpecAugment:
    """SpecAugment (Park et al. 2019) for training chunks (B, T, D) of CMVN'd features `fc`:
    per chunk `num_masks` frequency masks of 0..freq_mask mel bands and `num_masks` time
    masks of 0..time_mask frames (widths and starts uniform) set to 0, the speaker mean. A
    mask acts alike on the statics and each delta order. MFCC are masked in the log-mel
    domain: each block of num_ceps becomes lifter * D diag(keep) D^T / lifter c, D the
    (ceps, bins) orthonormal DCT (c0 is left as is when it is the log energy); fbank bands
    are zeroed (the energy column is left)."""

    def __init__(self, fc: FeatureConfig, freq_mask: int, time_mask: int, num_masks: int):
        self.freq_mask, self.time_mask, self.n = freq_mask, time_mask, num_masks
        self.bins, self.blocks, self.static = fc.num_mel_bins, 1 + fc.delta_order, fc.static_dim
        self.energy = int(fc.use_energy)
        self.mfcc = fc.kind == "mfcc"
        if self.mfcc:  # (ceps, bins) log-mel -> liftered ceps, (bins, ceps) back
            lif = lifter_coeffs(fc.num_ceps, fc.cepstral_lifter)[self.energy:]
            dct = dct_matrix(fc.num_ceps, self.bins)[self.energy:]
            self.from_mel = (lif[:, None] * dct).float()
            self.to_mel = (dct.T / lif).float()

    def _spans(self, B: int, widest: int, size: int, g: torch.Generator) -> torch.Tensor:
        """(B, size) bool: the union of self.n spans per row of widths 0..widest in 0..size-1."""
        w = torch.randint(0, min(widest, size) + 1, (B, self.n), generator=g)
        s = (torch.rand(B, self.n, generator=g) * (size - w + 1)).long()
        i = torch.arange(size)
        return ((i >= s[..., None]) & (i < (s + w)[..., None])).any(1)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A masked copy of x (B, T, D) (CPU), with the masks drawn from g."""
        B, T, _ = x.shape
        frames = self._spans(B, self.time_mask, T, g) if self.time_mask else None
        bands = self._spans(B, self.freq_mask, self.bins, g) if self.freq_mask else None
        return self.mask(x, frames, bands)

    def mask(self, x: torch.Tensor, frames: torch.Tensor | None, bands: torch.Tensor | None):
        """x (B, T, D) with the frames (B, T) and the mel bands (B, bins) marked True masked."""
        x = x.clone()
        if frames is not None:
            x[frames] = 0.0
        if bands is not None:
            keep = (~bands).to(x.dtype)
            xs = x.view(*x.shape[:2], self.blocks, self.static)
            if self.mfcc:
                P = self.from_mel @ (keep[:, :, None] * self.to_mel)  # (B, ceps', ceps')
                xs[..., self.energy:] = torch.einsum("btkc,bdc->btkd", xs[..., self.energy:], P)
            else:
                xs[..., self.energy:] *= keep[:, None, None, :]
        return x


class SpectralShift:
    """Segment-wise spectral-shape perturbation of training chunks (B, T, D) of CMVN'd features:
    each chunk is cut before each frame with probability 1 / mean_frames, and every segment's
    log-mel spectrum gets a smooth curve r = sum_k a_k d_k added, d_k the orthonormal DCT rows
    k = 1..num_ceps-1 over the mel bands (shape only: no level, c0), a_k ~ N(0, s^2) with s
    such that the RMS of r over the bands is `db` dB on average. In MFCC that adds lifter_k a_k
    to the static c_k (c0 or the log energy is left); fbank bands get r (the energy column is
    left). The delta blocks get the deltas of the added track, as if computed after it."""

    def __init__(self, fc: FeatureConfig, db: float, mean_frames: int):
        self.blocks, self.static = 1 + fc.delta_order, fc.static_dim
        self.order, self.window = fc.delta_order, fc.delta_window
        self.p = 1.0 / mean_frames
        shape = fc.num_ceps - 1  # the curve's DCT coefficients: k = 1..num_ceps-1
        self.sigma = db / (10 / math.log(10)) / math.sqrt(shape / fc.num_mel_bins)  # nepers
        if fc.kind == "mfcc":  # coefficients -> the shift of the static columns c1..
            self.basis = torch.diag(lifter_coeffs(fc.num_ceps, fc.cepstral_lifter)[1:]).float()
            self.first = 1
        else:  # coefficients -> the log-mel curve over the bands
            self.basis = dct_matrix(fc.num_ceps, fc.num_mel_bins)[1:].float()
            self.first = int(fc.use_energy)

    def track(self, B: int, T: int, g: torch.Generator) -> torch.Tensor:
        """(B, T, static - first): the per-frame shift of the static columns from `first` on."""
        cut = torch.rand(B, T, generator=g) < self.p
        cut[:, 0] = True
        seg = torch.cumsum(cut.long(), 1) - 1  # (B, T) segment index per frame
        a = torch.randn(B, T, self.basis.shape[0], generator=g) * self.sigma
        a = torch.gather(a, 1, seg[..., None].expand(-1, -1, a.shape[2]))
        return a @ self.basis

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A shifted copy of x (B, T, D) (CPU), the segments and curves drawn from g."""
        return self.shift(x, self.track(*x.shape[:2], g))

    def shift(self, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """x (B, T, D) plus the static track r (B, T, static - first) and its deltas."""
        B, T, _ = x.shape
        t = r.transpose(0, 1).reshape(T, -1)  # (T, B * cols): add_deltas works on columns
        t = add_deltas(t, self.order, self.window).view(T, self.blocks, B, -1).permute(2, 0, 1, 3)
        x = x.clone()
        x.view(B, T, self.blocks, self.static)[..., self.first:] += t.to(x.dtype)
        return x


class SpectralScale:
    """Spectral-contrast perturbation of training chunks (B, T, D) of CMVN'd features: each
    chunk's log-mel spectrum around its per-frame level is scaled by a factor alpha, log-uniform
    in [lo, hi] (alpha < 1: a flatter spectrum, as from a smoothed envelope). Speaker CMVN
    commutes with it, so on MFCC it scales c1.. (c0 or the log energy kept) and on fbank it
    maps each frame's bands x to alpha x + (1 - alpha) mean(x) (the energy column kept), in the
    statics and every delta order alike."""

    def __init__(self, fc: FeatureConfig, lo: float, hi: float):
        self.blocks, self.static = 1 + fc.delta_order, fc.static_dim
        self.log_lo, self.log_hi = math.log(lo), math.log(hi)
        self.mfcc = fc.kind == "mfcc"
        self.first = 1 if self.mfcc else int(fc.use_energy)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A scaled copy of x (B, T, D) (CPU), the factors drawn from g."""
        u = torch.rand(x.shape[0], generator=g)
        return self.scale(x, torch.exp(self.log_lo + (self.log_hi - self.log_lo) * u))

    def scale(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """x (B, T, D) with chunk b's spectral shape scaled by alpha[b]."""
        x = x.clone()
        xs = x.view(*x.shape[:2], self.blocks, self.static)[..., self.first:]
        a = alpha.to(x.dtype)[:, None, None, None]
        level = 0.0 if self.mfcc else xs.mean(-1, keepdim=True)
        xs.copy_(a * xs + (1 - a) * level)
        return x


def scaled_loglik(log_post: np.ndarray | torch.Tensor, log_prior: np.ndarray | torch.Tensor,
                  acoustic_scale: float = 1.0):
    """acoustic_scale * (log p(s|x) - log p(s)): (T, P) pseudo log-likelihoods for the decoder."""
    return acoustic_scale * (log_post - log_prior)


def task_logits(logits: torch.Tensor, y: torch.Tensor, task_of: torch.Tensor) -> torch.Tensor:
    """(..., pdfs) logits with the pdfs of every task but that of the frame's target y (...)
    set to -inf, so each frame's softmax runs over its own task's pdfs (multitask training).
    task_of: (pdfs,) task of each output row; targets < 0 (ignored) count as task 0."""
    tasks = task_of.to(y.device)
    return logits.masked_fill(tasks != tasks[y.clamp(min=0)][..., None], float("-inf"))


def count_priors(pdfs: np.ndarray, num_pdfs: int) -> np.ndarray:
    """Add-one smoothed relative frequencies (P,) of the aligned pdf ids."""
    c = np.bincount(pdfs.astype(np.int64), minlength=num_pdfs).astype(np.float64) + 1.0
    return c / c.sum()


@dataclass(frozen=True)
class DenominatorGraph:
    """The denominator HMM of lattice-free MMI (Povey et al. 2016) at the pdf level: every
    pdf is a state, entered at a chunk's first frame with `start` (P,) and left with the
    rows of `trans` (P, P), a pdf bigram (self-loops included) counted from the training
    alignments; unseen pairs keep a floor so held-out paths stay finite."""
    start: torch.Tensor
    trans: torch.Tensor

    @classmethod
    def from_alignments(cls, seqs: list[np.ndarray], num_pdfs: int, floor: float = 1e-6):
        counts = np.zeros((num_pdfs, num_pdfs))
        for y in seqs:
            np.add.at(counts, (y[:-1], y[1:]), 1.0)
        rows = counts.sum(1, keepdims=True)
        trans = np.where(rows > 0, counts / np.maximum(rows, 1), np.eye(num_pdfs))
        trans = (1 - floor) * trans + floor / num_pdfs
        start = count_priors(np.concatenate(seqs), num_pdfs)
        return cls(torch.from_numpy(start).float(), torch.from_numpy(trans).float())


def mmi_loss(ll: torch.Tensor, y: torch.Tensor, den: DenominatorGraph) -> torch.Tensor:
    """Per-chunk MMI loss log p_den(x) - log p(x, y) >= 0, (B,), from scaled log-likelihoods
    ll (B, L, P) of chunks whose frames with y >= 0 (y: (B, L) pdf ids, -100 past the chunk's
    end) come first. The numerator is the aligned path y, the denominator the sum over all
    pdf paths of `den` (forward algorithm, rescaled per frame in the probability domain),
    in float32 or wider even under autocast."""
    if ll.dtype in (torch.float16, torch.bfloat16):
        ll = ll.float()
    with torch.autocast(ll.device.type, enabled=False):
        return _mmi_loss(ll, y, den)


def _mmi_loss(ll: torch.Tensor, y: torch.Tensor, den: DenominatorGraph) -> torch.Tensor:
    valid = y >= 0
    yc = y.clamp(min=0)
    start, trans = den.start.to(ll), den.trans.to(ll)
    log_start, log_trans = start.log(), trans.log()
    steps = ll.gather(2, yc[..., None])[..., 0]
    steps[:, 1:] = steps[:, 1:] + log_trans[yc[:, :-1], yc[:, 1:]]
    num = torch.where(valid, steps, torch.zeros_like(steps)).sum(1) + log_start[yc[:, 0]]
    m = ll.detach().amax(2, keepdim=True)  # (B, L, 1): any constant per frame is exact
    e = torch.exp(ll - m)
    alpha = start * e[:, 0]
    c = alpha.sum(1, keepdim=True)
    alpha, log_z = alpha / c, c[:, 0].log() + m[:, 0, 0]
    for t in range(1, ll.shape[1]):
        a = (alpha @ trans) * e[:, t]
        c = a.sum(1, keepdim=True)
        v = valid[:, t]
        alpha = torch.where(v[:, None], a / c, alpha)
        log_z = log_z + torch.where(v, c[:, 0].log() + m[:, t, 0], torch.zeros_like(log_z))
    return log_z - num


@dataclass
class DNNModel:
    """A loaded DNN model dir: HMM/tree/lexicon (`hmm`), the network and the priors."""
    hmm: AcousticModel
    net: nn.Module
    priors: np.ndarray
    meta: dict
    path: Path

    @property
    def features(self) -> dict:
        """The network's input feature settings (older dirs: those of the GMM they hold)."""
        return self.meta.get("features", self.hmm.features)

    def adapt_batchnorm(self, utts: list[np.ndarray] | None, device: torch.device | None = None) -> None:
        """AdaBN on (T, D) feature matrices (edge frames padded as in loglik); None: undo."""
        k = int(self.meta["context"])
        self.net.adapt_batchnorm(None if utts is None else [
            torch.from_numpy(pad_utterance(np.asarray(x, np.float32), k)).to(device or "cpu") for x in utts])

    def loglik(self, feats: np.ndarray, acoustic_scale: float | None = None,
               device: torch.device | None = None, chunk: int = 4096) -> np.ndarray:
        """(T, D) features -> (T, pdfs) float32 scaled log-likelihoods."""
        a = self.meta["acoustic_scale"] if acoustic_scale is None else acoustic_scale
        k = int(self.meta["context"])
        dev = device or torch.device("cpu")
        padded = torch.from_numpy(pad_utterance(np.asarray(feats, np.float32), k)).to(dev)
        lp = torch.from_numpy(np.log(self.priors)).float().to(dev)
        out = []
        with torch.no_grad():
            for s in range(0, len(feats), chunk):
                x = padded[s:min(s + chunk, len(feats)) + 2 * k]  # (L + 2k, D)
                logp = torch.log_softmax(self.net(x[None])[0].float(), dim=-1)
                out.append(scaled_loglik(logp, lp, a).cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def require_batchnorm(model: DNNModel | None, path: str | os.PathLike) -> None:
    """ConfigError unless `model` (None: a GMM dir) has BatchNorm layers for --adabn."""
    if model is None or not any(isinstance(m, nn.BatchNorm1d) for m in model.net.modules()):
        raise ConfigError(f"--adabn: {path} has no BatchNorm layers to adapt (use a train-dnn "
                          "--arch tdnn model)")


def is_dnn_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "dnn.json").is_file()


def check_model_dir(path: str | os.PathLike, need_lm: bool = False) -> None:
    """DataError naming the first missing part of a DNN model dir."""
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"{p}: no such model dir")
    parts = dict(MODEL_PARTS, **({"lm.arpa": "language model"} if need_lm else {}))
    for name, what in parts.items():
        if not (p / name).is_file():
            raise DataError(f"{p}: incomplete model dir: {name} ({what}) is missing; copy the "
                            "whole dir written by `speechlang asr train-dnn`")


class UnfoldLinear(nn.Module):
    """A Conv1d (C -> H channels, kernel K, dilation d, no padding) computed as the K
    dilated frames of each output position, (C * K) time-major, through a Linear(C * K, H):
    (B, C, T) -> (B, H, T - d (K - 1)), the same values as the convolution, but a layer
    that int8 dynamic quantization covers."""

    def __init__(self, conv: nn.Conv1d):
        super().__init__()
        (self.k,), (self.d,) = conv.kernel_size, conv.dilation
        h, c, k = conv.weight.shape
        self.linear = nn.Linear(c * k, h)
        with torch.no_grad():
            self.linear.weight.copy_(conv.weight.permute(0, 2, 1).reshape(h, k * c))
            self.linear.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.unfold(2, self.d * (self.k - 1) + 1, 1)[..., ::self.d]  # (B, C, T', K)
        return self.linear(w.permute(0, 2, 3, 1).flatten(2)).transpose(1, 2)


def quantize_net(net: SplicedNet) -> nn.Module:
    """An int8 copy of `net` for CPU decoding: the TDNN's convolutions become UnfoldLinear
    layers, then every Linear is dynamically quantized (BatchNorm and LayerNorm stay float)."""
    from speechlang.accel.compress import quantize_int8
    net = copy.deepcopy(net)
    net.body = nn.Sequential(*[UnfoldLinear(m) if isinstance(m, nn.Conv1d) else m for m in net.body])
    return quantize_int8(net)


def build_net(meta: dict) -> SplicedNet:
    return SplicedNet(meta["arch"], int(meta["input_dim"]), int(meta["context"]),
                      int(meta["hidden"]), int(meta["layers"]), int(meta["num_pdfs"]),
                      float(meta.get("dropout", 0.0)))


def read_dnn(path: str | os.PathLike, quantize: bool = False, device: str = "cpu") -> DNNModel:
    """Load a DNN model dir; `quantize`: int8 dynamic quantization (`quantize_net`, CPU)."""
    from speechlang.accel import resolve_device
    p = Path(path)
    check_model_dir(p)
    try:
        meta = json.loads((p / "dnn.json").read_text(encoding="utf-8"))
        priors = np.load(p / "priors.npy")
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, OSError) as e:
        raise FormatError(f"{p}: corrupt DNN model dir ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise FormatError(f"{p / 'dnn.json'}: not a speechlang DNN-HMM model")
    hmm = read_model(p)
    if priors.shape != (hmm.gmm.num_pdfs,) or int(meta["num_pdfs"]) != hmm.gmm.num_pdfs:
        raise FormatError(f"{p}: dnn.json, priors.npy and tree.json disagree on the number of pdfs")
    net = build_net(meta)
    try:
        net.load_state_dict(load_checkpoint(p / "dnn.pt")["model"])
    except (KeyError, RuntimeError) as e:
        raise FormatError(f"{p / 'dnn.pt'}: weights do not fit dnn.json ({e})") from None
    net.eval()
    if quantize:
        net = quantize_net(net)
    else:
        net = net.to(resolve_device(device, announce=False))
    return DNNModel(hmm, net, priors, meta, p)


def _split(utts: list[str], heldout: float) -> tuple[list[int], list[int]]:
    """Every round(1/heldout)-th utterance (by position) is held out; at least one each."""
    step = max(2, round(1 / heldout))
    held = [i for i in range(len(utts)) if i % step == step // 2]
    if not held or len(held) == len(utts):
        raise DataError(f"need at least 2 aligned utterances to hold one out (have {len(utts)})")
    hs = set(held)
    return [i for i in range(len(utts)) if i not in hs], held


def realign_dir(dnn: DNNModel, feat_dir, out_dir, sil_prob: float = 0.5,
                oov_word: str | None = None) -> dict:
    """Forced alignment with the DNN's scaled likelihoods into an alignment dir (ali.npz)."""
    from speechlang.asr.align import training_graph
    from speechlang.asr.alignfile import UttAlignment, write_alignments
    from speechlang.asr.hmm import viterbi
    from speechlang.asr.lexicon import map_transcripts
    from speechlang.io import atomic_dir
    feats = read_feats(feat_dir)
    text = map_transcripts(feats.datadir().text, dnn.hmm.lexicon, oov_word, f"{feat_dir}/text")
    utts, alis, failed = [], [], 0
    for u in feats.utts():
        g = training_graph(dnn.hmm, text[u], sil_prob)
        path, score = viterbi(g.emit(dnn.loglik(feats[u])), g)
        if not math.isfinite(score):
            failed += 1
            continue
        utts.append(u)
        alis.append(UttAlignment(g.pdf[path], g.phone[path], g.hmm_state[path], g.ctx_left[path],
                                 g.ctx_right[path]))
    if not utts:
        raise DataError(f"{feat_dir}: no utterance could be aligned with the DNN")
    with atomic_dir(out_dir) as tmp:
        write_alignments(Path(tmp), utts, alis, {
            "num_pdfs": dnn.hmm.gmm.num_pdfs, "model": str(dnn.path), "phones": dnn.hmm.lexicon.phones,
            "frame_shift_s": float(dnn.features.get("frame_shift_ms", 10.0)) / 1000,
            "silence": dnn.hmm.lexicon.silence, "cross_word": dnn.hmm.tree.cross_word})
    return {"utts": len(utts), "failed": failed, "frames": sum(len(a.pdf) for a in alis)}


def train_dnn(feat_dir, ali_dir, gmm_dir, out_dir, cfg: DNNConfig, tcfg: TrainConfig,
              resume: bool = False, lm: str | os.PathLike | None = None,
              extra_feats: tuple = (), extra_ali: tuple = (), oov_word: str | None = None,
              aux_feats: tuple = (), aux_ali: tuple = ()) -> dict:
    """Train the network on the alignment's pdf ids; write a DNN model dir (see module doc).
    `extra_feats`: more feature dirs of the same utterances (augmentation), trained on with
    the same alignment (same frame counts: e.g. VTLN-warped copies, `asr features
    --vtln-warp`) or, when `extra_ali` is given, with `extra_ali[i]` for `extra_feats[i]`
    (e.g. speed-perturbed copies, `asr features --speed`, aligned by `asr align`; utterances
    it lacks are left out). Held-out utterances are left out of every view; the held-out
    frame accuracy uses `feat_dir` alone.
    `aux_feats[i]` with `aux_ali[i]`: another task trained jointly (multitask: e.g. another
    corpus or language with its own tree), with its own output rows and softmax over the same
    hidden layers; those rows are dropped from the model written.
    With cfg.realign: then realign `feat_dir` with it (OUT/realign_ali; transcript words
    missing from the lexicon mapped to `oov_word`) and train a second network (checkpoints in
    OUT/ckpt2) on those alignments, which replaces the first."""
    if extra_ali and len(extra_ali) != len(extra_feats):
        raise ConfigError(f"{len(extra_ali)} --extra-ali for {len(extra_feats)} --extra-feats: "
                          "give one alignment per extra feature dir (ALI for those it fits)")
    if extra_ali and cfg.realign:
        raise ConfigError("--realign realigns FEATS only: it cannot be combined with --extra-ali")
    if len(aux_ali) != len(aux_feats):
        raise ConfigError(f"{len(aux_ali)} --aux-ali for {len(aux_feats)} --aux-feats: give one "
                          "alignment per auxiliary task")
    if aux_feats and (cfg.fmllr or cfg.objective != "ce" or (cfg.init and not cfg.transfer)):
        raise ConfigError("--aux-feats needs --objective ce, no --fmllr, and --transfer with --init "
                          "(new output rows for every task)")
    if cfg.realign:  # words missing from the lexicon: an error now, not after the first pass
        from speechlang.asr.lexicon import map_transcripts
        map_transcripts(read_feats(feat_dir).datadir().text, read_model(gmm_dir).lexicon, oov_word,
                        f"{feat_dir}/text")
    if cfg.init:  # the network's shape comes from the model it starts from
        m = read_dnn(cfg.init).meta
        if bool(m.get("fmllr")) != cfg.fmllr:
            raise ConfigError(f"--init {cfg.init} was trained {'with' if m.get('fmllr') else 'without'} "
                              "--fmllr; train this network the same way")
        cfg = replace(cfg, arch=m["arch"], context=int(m["context"]), hidden=int(m["hidden"]),
                      layers=int(m["layers"]), dropout=float(m.get("dropout", 0.0)))
    aux = tuple(zip(aux_feats, aux_ali, strict=True))
    rec = _train_pass(feat_dir, ali_dir, gmm_dir, out_dir, cfg, tcfg, resume, lm, "ckpt",
                      extra_feats=extra_feats, extra_ali=extra_ali, aux=aux)
    if not cfg.realign or not rec:
        return rec
    out = Path(out_dir)
    log.info("realigning the training data with the DNN")
    ali2 = realign_dir(read_dnn(out), feat_dir, out / "realign_ali", oov_word=oov_word)
    old, new = read_alignments(ali_dir), read_alignments(out / "realign_ali")
    same = [u for u in new.utts if u in old]
    diff = sum(int((old[u].pdf != new[u].pdf).sum()) for u in same)
    ali2["changed_frames"] = diff / max(1, sum(len(new[u].pdf) for u in same))
    resume2 = resume and (out / "ckpt2" / "checkpoint_last.pt").is_file()
    rec2 = _train_pass(feat_dir, out / "realign_ali", out, out, cfg, tcfg, resume2, lm, "ckpt2",
                       first=rec, extra_feats=extra_feats, aux=aux)
    return {**rec2, "pass1": rec, "realign": ali2}


def _train_pass(feat_dir, ali_dir, gmm_dir, out_dir, cfg: DNNConfig, tcfg: TrainConfig,
                resume: bool, lm, ckpt: str, first: dict | None = None,
                extra_feats: tuple = (), extra_ali: tuple = (), aux: tuple = ()) -> dict:
    import torch.distributed as dist
    t_start = time.perf_counter()
    gmm = read_model(gmm_dir)
    feats = read_feats(feat_dir)
    ali = read_alignments(ali_dir)
    num_pdfs = int(ali.meta["num_pdfs"])
    if num_pdfs != gmm.gmm.num_pdfs:
        raise DataError(f"{ali_dir} has {num_pdfs} pdfs but {gmm_dir} has {gmm.gmm.num_pdfs}; "
                        "align with the same model you pass here")
    if cfg.fmllr:  # the speaker transforms live in the GMM's feature space
        check_features(feats.config, gmm.features, feat_dir, gmm_dir)
    views = [feats] + [read_feats(d) for d in extra_feats]
    for d, v in zip(extra_feats, views[1:], strict=True):
        check_features(v.config, feats.config, d, feat_dir)
    ali_dirs = [ali_dir, *(extra_ali or [ali_dir] * len(extra_feats))]
    alis = [ali] + [read_alignments(a) if extra_ali else ali for a in ali_dirs[1:]]
    for a, al in zip(ali_dirs, alis, strict=True):
        if int(al.meta["num_pdfs"]) != num_pdfs:
            raise DataError(f"{a} has {al.meta['num_pdfs']} pdfs but {ali_dir} has {num_pdfs}; "
                            "align every view with the same model")
    adapt = _speaker_transforms(feats, gmm_dir) if cfg.fmllr else {}
    k, L = cfg.context, cfg.chunk_frames
    ho = set(_split(ali.utts, cfg.heldout)[1])
    padded, c_tr, y_tr, c_ho, y_ho, chunks, ho_chunks, groups = [], [], [], [], [], [], [], []
    utt2spk, speaker_ids = feats.datadir().utt2spk, {}
    pos = 0

    def add(x, y, u, d, a, speaker) -> np.ndarray:
        """Append utterance u's padded frames; chunks for training unless speaker is None
        (held out). Returns the rows of its frames."""
        nonlocal pos
        if len(x) != len(y):
            raise DataError(f"{u}: {len(x)} feature frames in {d} but {len(y)} aligned frames "
                            f"in {a}; align {d} again")
        padded.append(pad_utterance(x, k))
        spans = [(pos + k + s, min(L, len(x) - s)) for s in range(0, len(x), L)]
        if speaker is None:  # (first frame's row, frames): chunks of L frames, the last shorter
            ho_chunks.extend(spans)
        else:
            chunks.extend(spans)
            groups.extend([speaker_ids.setdefault(speaker, len(speaker_ids))] * len(spans))
        rows = np.arange(len(x)) + pos + k
        pos += len(x) + 2 * k
        return rows

    for j, (v, al, d, a) in enumerate(zip(views, alis, [feat_dir, *extra_feats], ali_dirs, strict=True)):
        for i, u in enumerate(ali.utts):
            if j > 0 and (i in ho or u not in al):
                continue  # held out, or not aligned in this view
            if u not in v:
                raise DataError(f"{a}: utterance {u} is not in {d}")
            x, y = v[u], al[u].pdf
            if cfg.fmllr:
                x = apply_transform(adapt[u], gmm.input(x))
            c, t = (c_ho, y_ho) if i in ho else (c_tr, y_tr)
            c.append(add(x, y, u, d, a, None if i in ho else (j, utt2spk.get(u, u))))
            t.append(y.astype(np.int64))
    task_pdfs, c_aux, y_aux = [num_pdfs], [], []  # auxiliary tasks: output rows after these
    for t, (d, a) in enumerate(aux, 1):
        v, al = read_feats(d), read_alignments(a)
        check_features(v.config, feats.config, d, feat_dir)
        spk = v.datadir().utt2spk
        for u in al.utts:
            if u not in v:
                raise DataError(f"{a}: utterance {u} is not in {d}")
            c_aux.append(add(v[u], al[u].pdf, u, d, a, (-t, spk.get(u, u))))
            y_aux.append(al[u].pdf.astype(np.int64) + sum(task_pdfs))
        task_pdfs.append(int(al.meta["num_pdfs"]))
    in_dim = gmm.gmm.dim if cfg.fmllr else feats.dim  # fMLLR: the GMMs' space (LDA/MLLT)
    padded.append(np.zeros((L, in_dim), np.float32))  # room for the last chunk's tail
    den = DenominatorGraph.from_alignments(y_tr, num_pdfs) if cfg.objective == "mmi" else None
    X = torch.from_numpy(np.concatenate(padded))
    c_tr, y_tr, c_ho, y_ho = (torch.from_numpy(np.concatenate(z)) for z in (c_tr, y_tr, c_ho, y_ho))
    Y = torch.full((len(X),), -100)  # the target of each row, -100 (ignored) in padding
    Y[c_tr], Y[c_ho] = y_tr, y_ho
    if aux:
        Y[torch.from_numpy(np.concatenate(c_aux))] = torch.from_numpy(np.concatenate(y_aux))
    task_of = torch.repeat_interleave(torch.arange(len(task_pdfs)), torch.tensor(task_pdfs))  # (pdfs,)
    ch_start, ch_len = torch.tensor(chunks).T
    ho_start, ho_len = torch.tensor(ho_chunks).T
    train_frames = X[c_tr]
    mean = train_frames.double().mean(0)
    std = train_frames.double().std(0).clamp(min=1e-5)
    del train_frames
    priors = count_priors(np.concatenate([ali[u].pdf for u in ali.utts]), num_pdfs)
    meta = {"format": FORMAT, "version": VERSION, "arch": cfg.arch, "context": k,
            "hidden": cfg.hidden, "layers": cfg.layers, "input_dim": in_dim,
            "num_pdfs": num_pdfs, "acoustic_scale": cfg.acoustic_scale, "lm_weight": cfg.lm_weight,
            "fmllr": cfg.fmllr, "dropout": cfg.dropout, "features": feats.config}
    set_seed(derive_seed(cfg.seed, 0x1D))  # the initial weights
    net = build_net({**meta, "num_pdfs": len(task_of)})  # every task's output rows
    if cfg.init:
        src = read_dnn(cfg.init)
        if int(src.meta["input_dim"]) != in_dim or (int(src.meta["num_pdfs"]) != num_pdfs and not cfg.transfer):
            raise DataError(f"--init {cfg.init} maps {src.meta['input_dim']} inputs to "
                            f"{src.meta['num_pdfs']} pdfs, these data {in_dim} to {num_pdfs}"
                            + ("" if cfg.transfer else " (--transfer keeps its hidden layers only)"))
        state = src.net.state_dict()  # its input normalization too
        if cfg.transfer:  # the output layer keeps its fresh seeded weights
            state = {n: v for n, v in state.items() if not n.startswith("out.")}
        net.load_state_dict(state, strict=not cfg.transfer)
        if cfg.freeze > net.hidden_layers:
            raise ConfigError(f"--freeze {cfg.freeze}: {cfg.init} has {net.hidden_layers} hidden layers")
        net.freeze(cfg.freeze)
    else:
        net.mean.copy_(mean.float())
        net.inv_std.copy_((1 / std).float())
    log_prior = torch.from_numpy(np.log(priors)).float()
    majority = float((y_ho == torch.bincount(y_tr, minlength=num_pdfs).argmax()).double().mean())

    per_batch = max(1, cfg.batch_size // L)  # chunks per batch
    groups = np.array(groups)
    num_batches = (sum(math.ceil(c / per_batch) for c in np.bincount(groups)) if cfg.speaker_batches
                   else math.ceil(len(ch_start) / per_batch))

    fc, augment = FeatureConfig.from_dict(feats.config), []  # applied to each batch in this order
    if cfg.freq_mask or cfg.time_mask:
        augment.append(SpecAugment(fc, cfg.freq_mask, cfg.time_mask, cfg.num_masks))
    if cfg.spec_shift:
        augment.append(SpectralShift(fc, cfg.spec_shift, cfg.shift_frames))
    if cfg.spec_scale != (1.0, 1.0):
        augment.append(SpectralScale(fc, *cfg.spec_scale))

    def batches(epoch, env):
        listing = (group_batches(groups, per_batch, epoch=epoch, seed=cfg.seed, env=env)
                   if cfg.speaker_batches else
                   index_batches(len(ch_start), per_batch, epoch=epoch, seed=cfg.seed, env=env))
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, 0x5A, epoch, env.rank))
        for idx in listing:
            i = torch.from_numpy(idx)
            x, y = chunk_batch(X, Y, ch_start[i], ch_len[i], k, L)
            for aug in augment:
                x = aug(x, g)
            yield x, y

    def loss_fn(model, batch):  # mean per frame, frames
        x, y = batch
        logits = model(x).float()
        n = int((y >= 0).sum())
        if aux:
            logits = task_logits(logits, y, task_of)
        ce = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
        if den is None:
            return ce, n
        ll = scaled_loglik(torch.log_softmax(logits, -1), log_prior.to(logits.device), cfg.mmi_scale)
        return mmi_loss(ll, y, den).sum() / n + cfg.mmi_ce * ce, n

    def evaluate(model):
        dev = next(model.parameters()).device
        correct, loss = 0, 0.0
        for s in range(0, len(c_ho), 8192):
            logits = model(splice(X, c_ho[s:s + 8192], k).to(dev))[:, 0, :num_pdfs].float()
            y = y_ho[s:s + 8192].to(dev)
            correct += int((logits.argmax(-1) == y).sum())
            loss += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        rec = {"frame_acc": correct / len(c_ho), "heldout_loss": loss / len(c_ho)}
        if den is not None:  # the held-out utterances in chunks, as trained
            mmi = 0.0
            for s in range(0, len(ho_start), 64):
                x, y = chunk_batch(X, Y, ho_start[s:s + 64], ho_len[s:s + 64], k, L)
                logp = torch.log_softmax(model(x.to(dev)).float(), -1)
                ll = scaled_loglik(logp, log_prior.to(dev), cfg.mmi_scale)
                mmi += float(mmi_loss(ll, y.to(dev), den).sum())
            rec["heldout_mmi"] = mmi / len(c_ho)
        return rec

    out = Path(out_dir)
    tcfg = replace(tcfg, seed=cfg.seed, **({"monitor": "heldout_mmi", "monitor_mode": "min"} if den
                                            else {"monitor": "frame_acc", "monitor_mode": "max"}))
    if cfg.realign and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--realign is not supported under torchrun; realign in a second run")
    if cfg.init:  # the starting point, for comparison with the epochs
        net.eval()
        with torch.no_grad():
            init_eval = evaluate(net)
        log.info("--init " + " ".join(f"{k_} {v:.5g}" for k_, v in init_eval.items()))
    res = fit(net, loss_fn, batches, tcfg, evaluate=evaluate, out_dir=out / ckpt, resume=resume,
              steps_per_epoch=num_batches, model_config=meta,
              desc="train-dnn", unit="frames")
    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        return {}
    best = out / ckpt / "checkpoint_best.pt"
    if best.is_file():
        net.load_state_dict(load_checkpoint(best)["model"])
    if aux:  # keep this task's output rows
        w, b = net.out.weight.detach()[:num_pdfs], net.out.bias.detach()[:num_pdfs]
        net.out = nn.Linear(w.shape[1], num_pdfs).to(w.device)
        net.out.load_state_dict({"weight": w, "bias": b})
    train_s = time.perf_counter() - t_start
    frame_acc = next((h["frame_acc"] for h in res.history if h.get("epoch") == res.best_epoch), None)
    meta["train"] = {"config": asdict(cfg), "loop": {k_: v for k_, v in asdict(tcfg).items()
                                                      if k_ != "betas"},
                     "history": res.history, "best_frame_acc": frame_acc, "best_epoch": res.best_epoch,
                     "heldout_majority_acc": majority, "train_frames": len(c_tr),
                     "heldout_frames": len(c_ho), "heldout_utts": len(ho), "feats": str(feat_dir),
                     "extra_feats": [str(d) for d in extra_feats],
                     "extra_ali": [str(a) for a in extra_ali],
                     "aux": [{"feats": str(d), "ali": str(a), "pdfs": p}
                             for (d, a), p in zip(aux, task_pdfs[1:], strict=True)],
                     "aux_frames": sum(len(c) for c in c_aux),
                     "ali": str(ali_dir), "gmm": str(gmm_dir), "train_s": round(train_s, 2),
                     **({"pass1": first} if first else {}),
                     **({"init_eval": init_eval} if cfg.init else {})}
    write_dnn_dir(out, gmm_dir, net, priors, meta, lm)
    return {"epochs": res.epochs, "steps": res.steps, "frame_acc": frame_acc,
            "best_epoch": res.best_epoch, "majority_acc": round(majority, 4),
            "train_frames": len(c_tr), "heldout_frames": len(c_ho), "num_pdfs": num_pdfs,
            "params": sum(p.numel() for p in net.parameters()), "train_s": round(train_s, 2)}


def _speaker_transforms(feats, gmm_dir) -> dict[str, np.ndarray]:
    """{utt: (D, D+1) fMLLR transform of its speaker} from a train-sat dir's trans.npz."""
    path = Path(gmm_dir) / "trans.npz"
    if not path.is_file():
        raise DataError(f"{gmm_dir}: no trans.npz; --fmllr needs a train-sat model dir")
    trans, utt2spk = read_transforms(path), feats.datadir().utt2spk
    missing = sorted({utt2spk[u] for u in feats.utts()} - set(trans))
    if missing:
        raise DataError(f"{path} has no transform for speaker(s) {', '.join(missing[:3])}: "
                        "train-sat on the same training data")
    return {u: trans[utt2spk[u]] for u in feats.utts()}


def write_dnn_dir(out: Path, gmm_dir, net: nn.Module, priors: np.ndarray, meta: dict,
                  lm: str | os.PathLike | None) -> None:
    """Copy the GMM model dir's parts, then write dnn.pt, priors.npy, lm.arpa and dnn.json
    (last: a dir with dnn.json is complete)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "dnn.json").unlink(missing_ok=True)
    parts = ["model.json", "gmm.npz", "tree.json", "phones.txt", "lexicon.txt"]
    parts += ["transform.npz"] if (Path(gmm_dir) / "transform.npz").is_file() else []  # LDA/MLLT
    for name in parts:
        if Path(gmm_dir).resolve() != out.resolve():  # (second pass: already there)
            with open(Path(gmm_dir) / name, "rb") as src, atomic_output(out / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    save_checkpoint(out / "dnn.pt", {"model": {k: v.cpu() for k, v in net.state_dict().items()}})
    with atomic_output(out / "priors.npy", "wb") as f:
        np.save(f, priors)
    if lm is not None:
        with open(lm, "rb") as src, atomic_output(out / "lm.arpa", "wb") as dst:
            shutil.copyfileobj(src, dst)
    with atomic_output(out / "dnn.json") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    log.info(f"wrote DNN model dir {out}")

"""Skip-gram training (Mikolov et al. 2013) on a streamed corpus, numba (CPU) or torch backend.

    cfg = W2VConfig(loss="ns", dim=100, epochs=5, threads=2)
    result = train(["corpus.tok"], cfg)        # stdin: ["-"]
    result.words, result.vectors, result.history

Dynamic window (a window of 1..window words, uniformly), subsampling of frequent words
(sample) and a learning rate that falls linearly from alpha to min_alpha over all epochs,
as in word2vec.c. The numba backend runs lock-free (Hogwild) threads, each part of the
work with its own LCG (one part with one thread, else 4 per thread, handed out as threads
free up). One kernel call trains the next len(parts) consecutive chunks of the corpus, one
per part, so all threads stay in the same region of the corpus and the learning rate follows
the position in the corpus as with one thread (a corpus grouped by source is then seen in
the same order however many threads run). The torch backend trains large batches through
accel.fit.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from speechlang import log
from speechlang.accel import derive_seed, resolve_device, set_threads
from speechlang.errors import ConfigError, DataError
from speechlang.w2v.corpus import SENTENCE_END, TokenCorpus
from speechlang.w2v.huffman import huffman_tree
from speechlang.w2v.negative import noise_alias
from speechlang.w2v.skipgram import MAX_SENTENCE, EpochState, run_parts
from speechlang.w2v.vocab import keep_thresholds

LOSSES = ("ns", "hs")
BACKENDS = ("auto", "numba", "torch")
SLICE_TOKENS = 1 << 18  # tokens per thread per kernel call (progress granularity)
PARTS_PER_THREAD = 4    # corpus parts per thread (handed out dynamically) when threads > 1


@dataclass(frozen=True)
class W2VConfig:
    """Options of `speechlang w2v train` (defaults: word2vec.c's skip-gram settings)."""

    loss: str = field(default="ns", metadata={"help": "ns (negative sampling) or hs (hierarchical softmax)"})
    dim: int = field(default=100, metadata={"help": "vector dimension"})
    window: int = field(default=5, metadata={"help": "max context words on each side (a random 1..window is used)"})
    negative: int = field(default=5, metadata={"help": "noise words per pair for --loss ns (5-20; 2-5 for big data)"})
    min_count: int = field(default=5, metadata={"help": "drop words seen fewer times"})
    sample: float = field(default=1e-3, metadata={"help": "subsampling threshold (0: off; 1e-5..1e-3)"})
    epochs: int = field(default=5, metadata={"help": "passes over the corpus"})
    alpha: float = field(default=0.025, metadata={"help": "initial learning rate"})
    min_alpha: float = field(default=1e-4, metadata={"help": "final learning rate (linear decay)"})
    seed: int = field(default=1, metadata={"help": "random seed"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0: all); 1 is reproducible"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N"})
    backend: str = field(default="auto", metadata={"help": "numba, torch, or auto (torch on a GPU)"})
    batch_size: int = field(default=16384, metadata={"help": "torch backend: (center, context) pairs per batch"})
    precision: str = field(default="fp32", metadata={"help": "torch backend: fp32, bf16 or fp16"})
    hogwild: int = field(default=0, metadata={"help": "torch backend: lock-free CPU worker processes (0: off)"})
    max_minutes: float = field(default=0.0, metadata={"help": "torch backend: training time budget (0: none)"})

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"--loss {self.loss!r} is not one of ns, hs")
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        for name in ("dim", "window", "min_count", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.loss == "ns" and self.negative < 1:
            raise ConfigError(f"--negative must be >= 1 with --loss ns, got {self.negative}")
        if not (self.sample >= 0 and math.isfinite(self.sample)):
            raise ConfigError(f"--sample must be >= 0, got {self.sample}")
        if not (0 < self.alpha < 10 and 0 <= self.min_alpha <= self.alpha):
            raise ConfigError(f"need 0 < --alpha < 10 and 0 <= --min-alpha <= --alpha, got "
                              f"{self.alpha} and {self.min_alpha}")
        if self.threads < 0:
            raise ConfigError(f"--threads must be >= 0, got {self.threads}")
        if self.hogwild < 0 or self.max_minutes < 0:
            raise ConfigError("--hogwild and --max-minutes must be >= 0")

    @classmethod
    def from_dict(cls, d: dict) -> W2VConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown w2v option(s): {', '.join(unknown)}")
        return cls(**d)


@dataclass
class TrainResult:
    words: list[str]
    counts: np.ndarray    # (V,) int64
    vectors: np.ndarray   # (V, dim) float32, syn0
    history: list[dict]   # per epoch: epoch, loss (mean per pair), pairs, words_per_s, seconds
    backend: str


def pick_backend(cfg: W2VConfig) -> str:
    """numba on CPU; torch when asked, or on `auto` with --hogwild or when --device resolves to a GPU."""
    if cfg.backend != "auto":
        return cfg.backend
    if cfg.hogwild:
        return "torch"
    if cfg.device.strip().lower() == "cpu":
        return "numba"
    return "torch" if resolve_device(cfg.device, announce=False).type == "cuda" else "numba"


def check_backend_options(cfg: W2VConfig, backend: str) -> None:
    """ConfigError for torch-only options on the numba backend, or Hogwild where it cannot run."""
    if backend == "numba" and (cfg.precision != "fp32" or cfg.hogwild or cfg.max_minutes):
        raise ConfigError("--precision, --hogwild and --max-minutes apply to --backend torch; the numba "
                          "backend trains in fp32 with lock-free --threads")
    if cfg.hogwild:
        from speechlang.accel import TrainConfig
        from speechlang.accel.hogwild import check_hogwild

        check_hogwild(TrainConfig(device=cfg.device), cfg.hogwild)


def train(inputs: Sequence[str | os.PathLike | None], cfg: W2VConfig, *, temp_dir: str | None = None) -> TrainResult:
    """Count the vocabulary and spool ids in one pass over `inputs`, then train."""
    cfg.check()
    backend = pick_backend(cfg)
    check_backend_options(cfg, backend)
    t0 = time.perf_counter()
    with TokenCorpus.build(inputs, min_count=cfg.min_count, temp_dir=temp_dir) as corpus:
        log.info(f"vocabulary: {len(corpus.vocab)} words (min-count {cfg.min_count}), "
                 f"{corpus.train_words} of {corpus.raw_words} tokens kept, "
                 f"{time.perf_counter() - t0:.1f}s")
        return train_corpus(corpus, cfg, backend=backend)


def train_corpus(corpus: TokenCorpus, cfg: W2VConfig, *, backend: str | None = None) -> TrainResult:
    """Train on a spooled corpus (see `train`)."""
    cfg.check()
    backend = backend or pick_backend(cfg)
    check_backend_options(cfg, backend)
    if backend == "torch":
        from speechlang.w2v.torch_sg import train_torch

        vectors, history = train_torch(corpus, cfg)
    else:
        vectors, history = train_numba(corpus, cfg)
    return TrainResult(list(corpus.vocab.words), corpus.vocab.counts, vectors, history, backend)


def init_vectors(v: int, dim: int, seed: int) -> np.ndarray:
    """syn0 uniform in [-0.5/dim, 0.5/dim) (word2vec.c), from `seed`."""
    rng = np.random.default_rng(derive_seed(seed, 0x5E0))
    return ((rng.random((v, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)


def sentence_start(tokens: np.ndarray, p: int, look: int = MAX_SENTENCE) -> int:
    """The first sentence start at or after p (or p itself when no sentence ends nearby)."""
    n = tokens.shape[0]
    if p <= 0 or p >= n:
        return min(max(p, 0), n)
    hits = np.flatnonzero(np.asarray(tokens[p - 1:min(p - 1 + look, n)]) == SENTENCE_END)
    return p + int(hits[0]) if hits.size else p


def split_parts(tokens: np.ndarray, n_parts: int) -> np.ndarray:
    """(n_parts + 1,) boundaries cutting the corpus into near-equal parts at sentence starts."""
    n = tokens.shape[0]
    b = [sentence_start(tokens, (n * i) // n_parts) for i in range(n_parts + 1)]
    b[-1] = n
    return np.maximum.accumulate(np.asarray(b, dtype=np.int64))


def call_ranges(tokens: np.ndarray, n_calls: int, n_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends), each (n_calls, n_parts): kernel call k trains tokens[starts[k, t]:ends[k, t]]
    in part t. The corpus is cut at sentence starts into n_calls * n_parts consecutive chunks, and
    call k takes the k-th run of n_parts of them, so every call works on one region of the corpus."""
    b = split_parts(tokens, n_calls * n_parts)
    return b[:-1].reshape(n_calls, n_parts), b[1:].reshape(n_calls, n_parts)


def train_numba(corpus: TokenCorpus, cfg: W2VConfig) -> tuple[np.ndarray, list[dict]]:
    """Hogwild SGD with `threads` numba threads; returns (syn0 (V, D) float32, history)."""
    threads = set_threads(cfg.threads)
    vocab, tokens = corpus.vocab, corpus.tokens
    v = len(vocab)
    syn0 = init_vectors(v, cfg.dim, cfg.seed)
    use_hs = cfg.loss == "hs"
    tree = huffman_tree(vocab.counts) if use_hs else None
    noise = None if use_hs else noise_alias(vocab.counts)
    syn1 = np.zeros((max(v - 1, 1) if use_hs else v, cfg.dim), dtype=np.float32)
    keep = keep_thresholds(vocab.counts, cfg.sample)
    n_parts = 1 if threads == 1 else threads * PARTS_PER_THREAD
    n_calls = max(1, math.ceil(tokens.shape[0] / (threads * SLICE_TOKENS)))
    starts, ends = call_ranges(tokens, n_calls, n_parts)
    # the learning rate follows the position in the whole corpus (bases 0, lengths N)
    bases, lengths = np.zeros(n_parts, np.int64), np.full(n_parts, max(tokens.shape[0], 1), np.int64)
    state = EpochState.new(n_parts, cfg.seed)
    common = dict(keep=keep, noise=noise, tree=tree, use_hs=use_hs, window=cfg.window,
                  negative=cfg.negative, alpha0=cfg.alpha, min_alpha=cfg.min_alpha, epochs=cfg.epochs)
    # compile (or load the cached kernel) before the clock starts
    empty = np.zeros(n_parts, np.int64)
    run_parts(syn0, syn1, tokens, empty, empty, empty, np.ones(n_parts, np.int64),
              EpochState.new(n_parts, 0), epoch=0, **common)
    log.info(f"training skip-gram {cfg.loss} on {corpus.train_words} words: numba, "
             f"{threads} thread(s), dim {cfg.dim}, window {cfg.window}, {cfg.epochs} epochs")
    history = []
    for epoch in range(cfg.epochs):
        state.reset_sums()
        prog = log.Progress(f"w2v epoch {epoch + 1}/{cfg.epochs}", corpus.train_words, "words")
        t0, c0 = time.perf_counter(), time.process_time()
        for k in range(n_calls):
            before = int(state.words.sum())
            run_parts(syn0, syn1, tokens, starts[k], ends[k], bases, lengths, state, epoch=epoch, **common)
            pairs = max(int(state.pairs.sum()), 1)
            prog.update(int(state.words.sum()) - before, loss=float(state.loss.sum()) / pairs)
        prog.close()
        history.append(_epoch_record(epoch, cfg, state.loss.sum(), state.pairs.sum(),
                                     state.words.sum(), time.perf_counter() - t0, time.process_time() - c0))
    return syn0, history


def _epoch_record(epoch: int, cfg: W2VConfig, loss: float, pairs: int, words: int, secs: float,
                  cpu_secs: float) -> dict:
    if not math.isfinite(float(loss)):
        raise DataError(f"the training loss became {loss} in epoch {epoch + 1}; lower --alpha")
    alpha_end = max(cfg.alpha - (cfg.alpha - cfg.min_alpha) * (epoch + 1) / cfg.epochs, cfg.min_alpha)
    rec = {"epoch": epoch + 1, "loss": float(loss) / max(int(pairs), 1), "pairs": int(pairs),
           "words": int(words), "seconds": secs, "cpu_seconds": cpu_secs,
           "words_per_s": int(words) / max(secs, 1e-9),
           "alpha": alpha_end}
    log.info(f"epoch {rec['epoch']}/{cfg.epochs} loss {rec['loss']:.4f} pairs {rec['pairs']} "
             f"words/s {rec['words_per_s']:,.0f} alpha {alpha_end:.5f} ({secs:.1f}s)")
    return rec


def config_dict(cfg: W2VConfig) -> dict:
    return asdict(cfg)

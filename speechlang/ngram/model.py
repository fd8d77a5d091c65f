"""The trained n-gram model and the one-call training API.

    model = train(["in the beginning", "god created"], order=3, smoothing="mkn")
    model.log10_prob(("<s>", "in"), "the"); model.perplexity(["in the beginning"]); model.save("lm.arpa")
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import IO

from speechlang import log
from speechlang.errors import ConfigError
from speechlang.ngram.adjust import build_tables
from speechlang.ngram.arpa import ArpaLM, write_arpa_tables
from speechlang.ngram.count import CountConfig, NgramCounts, count_ngrams, parse_memory
from speechlang.ngram.estimate import EstimateConfig, Estimated, estimate
from speechlang.ngram.query import Perplexity, SentenceScore, log10_prob, perplexity, score_sentence


@dataclass(frozen=True)
class TrainConfig:
    """Options of `ngram train`: counting (order, memory, temp_dir, encoding_errors) plus
    estimation (see EstimateConfig)."""

    order: int = 3  # highest n-gram order N
    smoothing: str = "mkn"  # mkn, kn, katz, wb, addk, jm
    interpolate: bool | None = None  # None: the method's usual form
    discount_fallback: tuple[float, float, float] = (0.5, 1.0, 1.5)  # mkn D1 D2 D3+ when needed
    add_k: float = 1.0  # addk pseudo-count
    jm_lambda: float = 0.5  # jm weight of the higher order
    katz_max: int = 7  # katz: largest count that is discounted
    prune: tuple[int, ...] = ()  # count cut-offs per order (lmplz --prune)
    memory: int = 1 << 30  # bytes for counting before sorted runs spill to disk
    temp_dir: str | None = None  # where spilled runs go
    encoding_errors: str = "strict"  # strict or replace

    def count_config(self) -> CountConfig:
        return CountConfig(self.order, self.memory, self.temp_dir, self.encoding_errors)

    def estimate_config(self) -> EstimateConfig:
        return EstimateConfig(self.smoothing, self.interpolate, tuple(self.discount_fallback),
                              self.add_k, self.jm_lambda, self.katz_max, tuple(self.prune))


@dataclass
class NgramModel:
    """A smoothed back-off model: queried in memory, saved as ARPA."""

    order: int
    est: Estimated
    config: TrainConfig
    tokens: int = 0
    sentences: int = 0
    _arpa: ArpaLM | None = None

    @property
    def vocab(self) -> list[str]:
        return self.est.vocab

    def counts(self) -> list[int]:
        """Number of n-grams of each order."""
        return [len(w) for w in self.est.words]

    def to_arpa(self) -> ArpaLM:
        """The model as an ArpaLM (built once, then cached)."""
        if self._arpa is None:
            v = self.est.vocab
            lm = ArpaLM(self.order)
            for n in range(self.order):
                lm.ngrams[n] = {tuple(v[i] for i in row): (p, b) for row, p, b in zip(
                    self.est.words[n].tolist(), self.est.log10_prob[n].tolist(),
                    self.est.log10_backoff[n].tolist(), strict=True)}
            self._arpa = lm
        return self._arpa

    def save(self, path_or_stream: str | os.PathLike | IO | None) -> None:
        """Write ARPA text (atomically when a path; '-' = stdout)."""
        write_arpa_tables(self.est.vocab, self.est.words, self.est.log10_prob,
                          self.est.log10_backoff, path_or_stream)

    def log10_prob(self, context: tuple[str, ...], word: str) -> float:
        """log10 p(word | context), context oldest first."""
        return log10_prob(self.to_arpa(), tuple(context), word)

    def score(self, sentence: str | list[str]) -> SentenceScore:
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        return score_sentence(self.to_arpa(), words)

    def perplexity(self, lines: Iterable[str]) -> Perplexity:
        return perplexity(self.score(line) for line in lines)


def train_counts(counts: NgramCounts, config: TrainConfig) -> NgramModel:
    """Estimate a model from padded N-gram counts."""
    tables = build_tables(counts)
    est = estimate(tables, counts.vocab, config.estimate_config())
    return NgramModel(config.order, est, config, counts.tokens, counts.sentences)


def train_corpus(source, config: TrainConfig = TrainConfig(), workers: int = 1) -> NgramModel:
    """Count and estimate: source is a path ('-' = stdin) or an iterable of lines."""
    config.estimate_config()  # fail on bad options before reading anything
    if workers > 1:
        from speechlang.ngram.parallel import count_parallel
        counts = count_parallel(source, config.count_config(), workers)
    else:
        counts = count_ngrams(source, config.count_config())
    if counts.spilled:
        log.info(f"counting spilled {counts.spilled} sorted run(s) to disk and merged them")
    return train_counts(counts, config)


def train(lines: Iterable[str], order: int = 3, smoothing: str = "mkn", **options) -> NgramModel:
    """Train an n-gram model on an iterable of sentences (one string of space-separated
    tokens each), without touching files. Options are TrainConfig fields, e.g.
    `interpolate=False`, `prune=(0, 1, 1)`, `add_k=0.5`, `memory="200M"`."""
    names = {f.name for f in fields(TrainConfig)}
    unknown = set(options) - names
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(names))}")
    if isinstance(lines, (str, bytes)):
        raise ConfigError("train() takes an iterable of sentences, not one string; wrap it in a list")
    if "memory" in options:
        options["memory"] = parse_memory(options["memory"])
    return train_corpus(iter(lines), TrainConfig(order=order, smoothing=smoothing, **options))

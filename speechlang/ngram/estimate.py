"""Smoothed n-gram probabilities and back-off weights from per-order count tables.

    model = estimate(build_tables(counts), counts.vocab, EstimateConfig(smoothing="mkn"))

Every method gives, for each n-gram hw seen in context h, a discounted mass alpha(w | h) and
leaves gamma(h) = 1 - sum_w alpha(w | h) for the words not seen after h. The two forms:
  interpolated  p(w | h) = alpha(w | h) + gamma(h) p(w | h'),  written with backoff gamma(h);
  backoff       p(w | h) = alpha(w | h),  backoff(h) = gamma(h) / (1 - sum_seen p(w | h')).
Both sum to one over the vocabulary (`<unk>` and `</s>` included, `<s>` excluded). The unigram
level interpolates with the uniform distribution over that vocabulary, as KenLM does.

Methods (Chen & Goodman 1998 give the formulas):
  mkn   modified Kneser-Ney: adjusted counts below the top order, discounts D1, D2, D3+ per
        order from count-of-counts (eq. 26); interpolated by default, exactly as lmplz.
  kn    Kneser-Ney with one discount D = n1 / (n1 + 2 n2) per order, adjusted counts.
  katz  Katz back-off with Good-Turing discounts of counts up to 7 (1 for unigrams).
  wb    Witten-Bell: alpha = c / (c(h) + T(h)), T(h) = distinct words after h.
  addk  additive: alpha = (c + k) / (c(h) + k V).
  jm    Jelinek-Mercer: alpha = lambda c / c(h).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from speechlang import log
from speechlang.errors import ConfigError
from speechlang.ngram.adjust import (
    OrderTable,
    count_of_counts,
    good_turing_ratios,
    kn_discount,
    mkn_discounts,
    parse_cutoffs,
)
from speechlang.ngram.count import BOS_ID

SMOOTHING = ("mkn", "kn", "katz", "wb", "addk", "jm")
INTERPOLATED_BY_DEFAULT = {"mkn": True, "kn": True, "katz": False, "wb": True, "addk": False,
                           "jm": True}
LOG10_ZERO = -99.0  # what the ARPA file says for probability or backoff 0 (SRILM's convention)
BOS_LOG10 = 0.0  # lmplz writes 0 for <s>, which is never predicted


@dataclass(frozen=True)
class EstimateConfig:
    """Options of `estimate` (one field per `ngram train` option)."""

    smoothing: str = "mkn"  # mkn, kn, katz, wb, addk or jm
    interpolate: bool | None = None  # None: the method's usual form (see INTERPOLATED_BY_DEFAULT)
    discount_fallback: tuple[float, float, float] = (0.5, 1.0, 1.5)  # D1 D2 D3+ when mkn cannot estimate them
    add_k: float = 1.0  # addk: pseudo-count added to every n-gram (0 < k)
    jm_lambda: float = 0.5  # jm: weight of the higher order (0 < lambda <= 1)
    katz_max: int = 7  # katz: counts above this are not discounted (unigrams: 1)
    prune: tuple[int, ...] = ()  # count cut-offs per order: drop n-grams with count <= t_n

    def __post_init__(self) -> None:
        if self.smoothing not in SMOOTHING:
            raise ConfigError(f"--smoothing must be one of {', '.join(SMOOTHING)}, not {self.smoothing!r}")
        d = self.discount_fallback
        if len(d) != 3 or any(not (0.0 <= x <= j + 1) for j, x in enumerate(d)):
            raise ConfigError(f"--discount-fallback {d}: need three discounts D1 in [0,1], "
                              "D2 in [0,2], D3+ in [0,3]")
        if not self.add_k > 0:
            raise ConfigError(f"--add-k must be > 0, not {self.add_k}")
        if not 0.0 < self.jm_lambda <= 1.0:
            raise ConfigError(f"--jm-lambda must be in (0, 1], not {self.jm_lambda}")
        if self.katz_max < 1:
            raise ConfigError(f"--katz-max must be >= 1, not {self.katz_max}")

    @property
    def interpolated(self) -> bool:
        return INTERPOLATED_BY_DEFAULT[self.smoothing] if self.interpolate is None else self.interpolate


@dataclass
class Estimated:
    """log10 probabilities and backoffs per order, aligned with the (pruned) tables.

    words[n-1]: (M_n, n) int32; log10_prob, log10_backoff: (M_n,) float64;
    discounts[n-1]: the discounts used (method-specific tuple, may be empty).
    """

    vocab: list[str]
    words: list[np.ndarray]
    log10_prob: list[np.ndarray]
    log10_backoff: list[np.ndarray]
    prefix: list[np.ndarray | None]
    discounts: list[tuple] = field(default_factory=list)


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        out = np.log10(np.maximum(x, 0.0))
    return np.maximum(out, LOG10_ZERO)


def _alphas(cfg: EstimateConfig, n: int, t: OrderTable, context_count: np.ndarray,
            context_types: np.ndarray, ctx: np.ndarray, vocab_size: int, fell_back: list[int]):
    """alpha for every n-gram of table t (its context index ctx) and the discounts used."""
    kn_like = cfg.smoothing in ("mkn", "kn")
    a = (t.adjusted if kn_like else t.count).astype(np.float64)
    c_h = context_count[ctx]
    if cfg.smoothing == "mkn":
        d = mkn_discounts(count_of_counts(t.adjusted))
        if d is None:
            d = cfg.discount_fallback
            fell_back.append(n)
        table = np.array([0.0, d[0], d[1], d[2]])
        alpha = (a - table[np.minimum(t.adjusted, 3)]) / c_h
        return alpha, tuple(d)
    if cfg.smoothing == "kn":
        d = kn_discount(count_of_counts(t.adjusted))
        if d is None:
            d = cfg.discount_fallback[0]
            fell_back.append(n)
        return np.maximum(a - d, 0.0) / c_h, (d,)
    if cfg.smoothing == "katz":
        k = 1 if n == 1 else cfg.katz_max
        ratios, bad = good_turing_ratios(count_of_counts(t.count, k + 1), k)
        if bad:
            fell_back.append(n)
        r = np.where(t.count <= k, ratios[np.minimum(t.count, k)], 1.0)
        return r * a / c_h, tuple(ratios[1:])
    if cfg.smoothing == "wb":
        return a / (c_h + context_types[ctx]), ()
    if cfg.smoothing == "addk":
        alpha = (a + cfg.add_k) / (c_h + cfg.add_k * (vocab_size - 1))
        return alpha, (cfg.add_k,)
    return cfg.jm_lambda * a / c_h, (cfg.jm_lambda,)


def estimate(tables: list[OrderTable], vocab: list[str], cfg: EstimateConfig = EstimateConfig()) -> Estimated:
    """Probabilities and backoffs for every order (see the module docstring)."""
    order = len(tables)
    cutoffs = parse_cutoffs(cfg.prune, order)
    vocab_size = len(vocab)
    interpolated = cfg.interpolated
    probs: list[np.ndarray] = []
    gammas: list[np.ndarray] = []  # gamma per entry of the order n-1 table, as contexts of order n
    keeps: list[np.ndarray] = []
    discounts: list[tuple] = []
    fell_back: list[int] = []
    kn_like = cfg.smoothing in ("mkn", "kn")
    for n in range(1, order + 1):
        t = tables[n - 1]
        a_all = (t.adjusted if kn_like else t.count).astype(np.float64)
        keep = (t.count > cutoffs[n - 1]) if (n > 1 and cutoffs[n - 1] > 0) else np.ones(len(t), bool)
        if n > 1:
            keep &= keeps[n - 2][t.prefix]
        keeps.append(keep)
        if n == 1:
            ctx = np.zeros(len(t), np.int64)
            n_ctx = 1
        else:
            ctx, n_ctx = t.prefix, len(tables[n - 2])
        context_count = np.bincount(ctx, weights=a_all, minlength=n_ctx)
        context_types = np.bincount(ctx, weights=(a_all > 0), minlength=n_ctx)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha, d = _alphas(cfg, n, t, context_count, context_types, ctx, vocab_size, fell_back)
        alpha = np.where(keep & np.isfinite(alpha), alpha, 0.0)
        if n == 1:
            alpha[BOS_ID] = 0.0
        discounts.append(d)
        alpha_sum = np.bincount(ctx, weights=alpha, minlength=n_ctx)
        gamma = np.clip(1.0 - alpha_sum, 0.0, 1.0)
        if n == 1:
            p = alpha + gamma[0] / (vocab_size - 1)
            p[BOS_ID] = 1.0
            probs.append(p)
            continue
        p_lower = probs[n - 2][t.suffix]
        if interpolated:
            p = alpha + gamma[ctx] * p_lower
            gammas.append(np.where(context_count > 0, gamma, 1.0))
        else:
            seen_lower = np.bincount(ctx, weights=np.where(keep, p_lower, 0.0), minlength=n_ctx)
            rest = 1.0 - seen_lower
            # a context followed by (nearly) every word: nothing to back off to; give its
            # leftover to the seen words in proportion so the distribution still sums to one
            full = (rest <= 1e-9) & (alpha_sum > 0)
            scale = np.where(full, 1.0 / np.where(alpha_sum > 0, alpha_sum, 1.0), 1.0)
            p = alpha * scale[ctx]
            with np.errstate(divide="ignore", invalid="ignore"):
                bo = np.where(full | (context_count == 0), 1.0, gamma / np.where(rest > 0, rest, 1.0))
            gammas.append(bo)
        probs.append(p)
    if fell_back:
        _warn_fallback(cfg, sorted(set(fell_back)), discounts)
    # assemble the kept entries with re-indexed contexts
    words, lp, lb, prefixes = [], [], [], []
    for n in range(1, order + 1):
        t, keep = tables[n - 1], keeps[n - 1]
        full = bool(keep.all())
        p = _log10(probs[n - 1] if full else probs[n - 1][keep])
        probs[n - 1] = None
        if n == 1:
            p[BOS_ID] = BOS_LOG10
        if n < order:
            b = _log10(gammas[n - 1] if full else gammas[n - 1][keep])
        else:
            b = np.zeros(len(p))
        words.append(t.words if full else np.ascontiguousarray(t.words[keep]))
        lp.append(p)
        lb.append(b)
        if n == 1:
            prefixes.append(None)
        elif full and keeps[n - 2].all():
            prefixes.append(t.prefix)
        else:
            remap = np.cumsum(keeps[n - 2]) - 1
            prefixes.append(remap[t.prefix[keep]])
    return Estimated(vocab, words, lp, lb, prefixes, discounts)


def _warn_fallback(cfg: EstimateConfig, orders: list[int], discounts: list[tuple]) -> None:
    where = ", ".join(str(n) for n in orders)
    if cfg.smoothing == "mkn":
        d = cfg.discount_fallback
        log.warn(f"modified Kneser-Ney discounts cannot be estimated for order(s) {where} (too few "
                 f"n-grams seen once, twice or three times: small or artificial data?); using the "
                 f"fallback discounts D1={d[0]:g} D2={d[1]:g} D3+={d[2]:g} (--discount-fallback)")
    elif cfg.smoothing == "kn":
        log.warn(f"the Kneser-Ney discount cannot be estimated for order(s) {where} (small or "
                 f"artificial data?); using D={cfg.discount_fallback[0]:g} (--discount-fallback)")
    else:
        log.warn(f"Good-Turing discounts out of range for order(s) {where} (small or artificial "
                 "data?); those counts are not discounted")

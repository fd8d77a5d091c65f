"""Back-off queries on an ARPA model: p(word | context) in log10, sentence scores, perplexity.

    log10_prob(lm, ("<s>", "in", "the"), "beginning")

The back-off rule (Katz 1987; the ARPA convention that `kenlm.Model` follows):
p(w | h) = p*(h w) if the n-gram `h w` is in the model, else bo(h) + p(w | h[1:]),
with bo(h) = 0 when `h` is not in the model. Words not in the vocabulary are `<unk>`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from speechlang.ngram.arpa import BOS, EOS, UNK, ArpaLM

# log10 probability of a word when the model has no <unk> (kenlm's choice)
MISSING_UNK_LOG10 = -100.0


def map_word(lm: ArpaLM, word: str) -> str:
    """`word` if it is a unigram of `lm`, else `<unk>`."""
    return word if (word,) in lm.ngrams[0] else UNK


def log10_prob(lm: ArpaLM, context: tuple[str, ...], word: str) -> float:
    """log10 p(word | context); context = preceding words, oldest first (only the last
    order-1 are used). Unknown words (in the context too) map to `<unk>`."""
    return _log10_prob_len(lm, context, word)[0]


def _log10_prob_len(lm: ArpaLM, context: Sequence[str], word: str) -> tuple[float, int]:
    """(log10 p(word | context), length of the n-gram that matched)."""
    uni = lm.ngrams[0]
    w = word if (word,) in uni else UNK
    if (w,) not in uni:
        return MISSING_UNK_LOG10, 0
    n_ctx = min(len(context), lm.order - 1)
    ctx = tuple(c if (c,) in uni else UNK for c in context[len(context) - n_ctx:]) if n_ctx else ()
    backoff = 0.0
    for start in range(n_ctx + 1):
        h = ctx[start:]
        hit = lm.ngrams[len(h)].get(h + (w,))
        if hit is not None:
            return backoff + hit[0], len(h) + 1
        if h:
            bo = lm.ngrams[len(h) - 1].get(h)
            if bo is not None:
                backoff += bo[1]
    raise AssertionError("unreachable: the unigram lookup cannot miss")


@dataclass(frozen=True)
class SentenceScore:
    """log10 probabilities of one sentence, `</s>` included.

    words: the scored tokens (the sentence's words, then `</s>`), word_log10: one per token,
    oov: whether each token is out of vocabulary.
    """

    words: tuple[str, ...]
    word_log10: tuple[float, ...]
    oov: tuple[bool, ...]

    @property
    def total(self) -> float:
        """log10 p(sentence), OOV tokens included (as `<unk>`)."""
        return math.fsum(self.word_log10)

    @property
    def total_in_vocab(self) -> float:
        """log10 p of the in-vocabulary tokens only."""
        return math.fsum(p for p, o in zip(self.word_log10, self.oov, strict=True) if not o)


def score_sentence(lm: ArpaLM, words: Sequence[str], bos: bool = True, eos: bool = True) -> SentenceScore:
    """Score one tokenized sentence as kenlm.Model.full_scores does (context starts at `<s>`)."""
    uni = lm.ngrams[0]
    history: list[str] = [BOS] if bos else []
    tokens = list(words) + ([EOS] if eos else [])
    probs, oov = [], []
    for w in tokens:
        probs.append(log10_prob(lm, tuple(history[-(lm.order - 1):]) if lm.order > 1 else (), w))
        oov.append((w,) not in uni)
        history.append(w)
    return SentenceScore(tuple(tokens), tuple(probs), tuple(oov))


@dataclass(frozen=True)
class Perplexity:
    """Corpus perplexity, as KenLM's `query` reports it.

    ppl: 10^(-log10 p / tokens), every token incl. `</s>` and OOVs;
    ppl_no_oov: the same over in-vocabulary tokens only; oovs: OOV tokens; tokens: all tokens.
    """

    log10_prob: float
    tokens: int
    oovs: int
    sentences: int
    log10_prob_no_oov: float

    @property
    def ppl(self) -> float:
        return 10.0 ** (-self.log10_prob / max(self.tokens, 1))

    @property
    def ppl_no_oov(self) -> float:
        return 10.0 ** (-self.log10_prob_no_oov / max(self.tokens - self.oovs, 1))

    def as_dict(self) -> dict:
        return {"ppl": self.ppl, "ppl_no_oov": self.ppl_no_oov, "log10_prob": self.log10_prob,
                "tokens": self.tokens, "oovs": self.oovs, "sentences": self.sentences}


def perplexity(scores: Iterable[SentenceScore]) -> Perplexity:
    """Combine sentence scores into a corpus perplexity."""
    total, total_iv, tokens, oovs, sents = [], [], 0, 0, 0
    for s in scores:
        total.append(s.total)
        total_iv.append(s.total_in_vocab)
        tokens += len(s.words)
        oovs += sum(s.oov)
        sents += 1
    return Perplexity(math.fsum(total), tokens, oovs, sents, math.fsum(total_iv))


def _load(lm: ArpaLM | str) -> ArpaLM:
    if isinstance(lm, ArpaLM):
        return lm
    from speechlang.ngram.arpa import read_arpa

    return read_arpa(lm)


def _is_path(source) -> bool:
    return source is None or isinstance(source, (str, bytes)) or hasattr(source, "__fspath__")


def _empty(source):
    """The error for a text without lines: a per-sentence tool with nothing to do has failed."""
    from speechlang.errors import DataError
    from speechlang.io import display_name

    name = display_name(source) if _is_path(source) else "the input"
    return DataError(f"{name}: no sentences (the input is empty)")


def score_lines(lm: ArpaLM | str, source, encoding_errors: str = "strict") -> Iterable[SentenceScore]:
    """Score every line of a text file ('-' = stdin) or iterable of strings; DataError when there is none."""
    from speechlang.io import iter_lines

    model = _load(lm)
    lines = iter_lines(source, encoding_errors=encoding_errors) if _is_path(source) else source
    empty = True
    for line in lines:
        empty = False
        yield score_sentence(model, line.split())
    if empty:
        raise _empty(source)


def evaluate(lm: ArpaLM | str, source, per_sentence: bool = False,
             encoding_errors: str = "strict") -> tuple[Perplexity, list[SentenceScore]]:
    """Corpus perplexity of a text; the sentence scores too when per_sentence."""
    kept: list[SentenceScore] = []

    def scores():
        for s in score_lines(lm, source, encoding_errors):
            if per_sentence:
                kept.append(s)
            yield s

    return perplexity(scores()), kept  # score_lines fails on a text without sentences


def query_lines(lm: ArpaLM | str, source, encoding_errors: str = "strict") -> Iterable[str]:
    """KenLM-query-like lines: `word=LOG10P/LEN` per token (LEN = n-gram length matched, 0 =
    OOV), then `Total: X OOV: K`."""
    from speechlang.io import iter_lines

    model = _load(lm)
    lines = iter_lines(source, encoding_errors=encoding_errors) if _is_path(source) else source
    uni = model.ngrams[0]
    empty = True
    for line in lines:
        empty = False
        hist = [BOS]
        parts, total, oov = [], 0.0, 0
        for w in line.split() + [EOS]:
            ctx = hist[-(model.order - 1):] if model.order > 1 else []
            lp, length = _log10_prob_len(model, ctx, w)
            is_oov = (w,) not in uni
            oov += is_oov
            parts.append(f"{w}={lp:.6f}/{0 if is_oov else length}")
            total += lp
            hist.append(w)
        yield "\t".join(parts) + f"\tTotal: {total:.6f} OOV: {oov}"
    if empty:
        raise _empty(source)

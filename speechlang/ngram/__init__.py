"""speechlang.ngram: counting, smoothing and back-off n-gram models in ARPA format.

    from speechlang.ngram import train
    lm = train(["in the beginning", "god created the heavens"], order=3, smoothing="mkn")
    lm.log10_prob(("<s>", "in"), "the"); lm.save("lm.arpa")
"""

from speechlang.ngram.arpa import ArpaLM, read_arpa, write_arpa
from speechlang.ngram.count import CountConfig, NgramCounts, count_ngrams
from speechlang.ngram.estimate import SMOOTHING, EstimateConfig
from speechlang.ngram.model import NgramModel, TrainConfig, train, train_corpus
from speechlang.ngram.query import log10_prob, perplexity, score_sentence

__all__ = [
    "SMOOTHING", "ArpaLM", "CountConfig", "EstimateConfig", "NgramCounts", "NgramModel",
    "TrainConfig", "count_ngrams", "log10_prob", "perplexity", "read_arpa", "score_sentence",
    "train", "train_corpus", "write_arpa",
]

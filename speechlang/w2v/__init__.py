"""speechlang.w2v: skip-gram word vectors (negative sampling or hierarchical softmax).

    from speechlang.w2v import KeyedVectors, W2VConfig, write_vectors
    from speechlang.w2v.train import train
    res = train(["corpus.tok"], W2VConfig(loss="ns", threads=2))
    write_vectors("vectors.bin", res.words, res.vectors, binary=True)

Modules, in the order of the method: corpus (one streaming pass, token ids spooled to a
memmap), vocab (min-count, subsampling), huffman (HS tree), negative (noise distribution),
_kernels + skipgram (numba Hogwild SGD and its wrappers), torch_sg (the torch/GPU path),
train (config and driver), vecformat (word2vec text/binary), neighbors and evaluate (queries,
analogy accuracy, Spearman's rho).
"""

from speechlang.w2v.evaluate import evaluate_analogies, evaluate_similarity
from speechlang.w2v.neighbors import KeyedVectors
from speechlang.w2v.train import TrainResult, W2VConfig
from speechlang.w2v.vecformat import read_vectors, validate_vectors, write_vectors

__all__ = [
    "KeyedVectors", "TrainResult", "W2VConfig", "evaluate_analogies", "evaluate_similarity",
    "read_vectors", "validate_vectors", "write_vectors",
]

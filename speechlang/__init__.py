"""speechlang: n-gram LMs, word2vec, GMM/DNN-HMM ASR, NMT and CNN vision on one CPU/GPU layer."""

from importlib.metadata import PackageNotFoundError, version

from speechlang.errors import ConfigError, DataError, FormatError, SpeechlangError

try:
    __version__ = version("speechlang")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+src"

__all__ = ["ConfigError", "DataError", "FormatError", "SpeechlangError", "__version__"]

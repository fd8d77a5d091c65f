"""Typed errors raised by the library; the CLI turns each into one line on stderr and exit 1.

SpeechlangError
  FormatError   a file is not in the format expected (ARPA, word2vec, Kaldi, IDX, checkpoint)
  DataError     the data is well-formed but unusable (empty, mismatched ids, NaN loss, missing file)
  ConfigError   an option or configuration value is invalid
"""


class SpeechlangError(Exception):
    """Base class of every error speechlang raises on purpose."""


class FormatError(SpeechlangError):
    """A file or stream is not in the expected format; the message names the file and line."""


class DataError(SpeechlangError):
    """Input data that cannot be used: empty, inconsistent, missing, or numerically broken."""


class ConfigError(SpeechlangError, ValueError):
    """An invalid option or configuration value; the message names the option."""

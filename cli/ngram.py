"""`speechlang ngram`: Smoothed and backoff n-gram language models (ARPA in and out)."""

from __future__ import annotations

from speechlang.cli._util import make_app

app = make_app("Smoothed and backoff n-gram language models (ARPA in and out).")

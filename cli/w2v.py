"""`speechlang w2v`: Skip-gram word vectors with negative sampling or hierarchical softmax."""

from __future__ import annotations

from speechlang.cli._util import make_app

app = make_app("Skip-gram word vectors with negative sampling or hierarchical softmax.")

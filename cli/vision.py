"""`speechlang vision`: CNN image classification with preprocessing, augmentation and compression."""

from __future__ import annotations

from speechlang.cli._util import make_app

app = make_app("CNN image classification with preprocessing, augmentation and compression.")

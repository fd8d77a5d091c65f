"""`speechlang nmt`: Sequence-to-sequence translation with attention, beam search and BLEU."""

from __future__ import annotations

from speechlang.cli._util import make_app

app = make_app("Sequence-to-sequence translation with attention, beam search and BLEU.")

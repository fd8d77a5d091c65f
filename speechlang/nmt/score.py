"""`nmt score`: corpus BLEU and chrF of hypotheses against references, with sacreBLEU.

    rec = score_corpus(hyps, refs)  # {"bleu": 27.1, "chrf": 55.0, "bleu_signature": "nrefs:1|...", ...}

sacreBLEU's defaults (13a tokenization, exponential smoothing; chrF with n=6, beta=2) and its
version signatures, so numbers compare with published ones.
"""

from __future__ import annotations

import os

from sacrebleu.metrics import BLEU, CHRF

from speechlang.errors import DataError
from speechlang.io import display_name, iter_lines


def score_corpus(hyps: list[str], refs: list[str]) -> dict:
    """BLEU and chrF (0-100) of line-aligned hypotheses and references, plus signatures."""
    if len(hyps) != len(refs):
        raise DataError(f"{len(hyps)} hypotheses but {len(refs)} references; they must be line-aligned")
    if not refs:
        raise DataError("no sentences to score")
    bleu, chrf = BLEU(), CHRF()
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {"bleu": round(b.score, 4), "chrf": round(c.score, 4), "sentences": len(refs),
            "bp": round(b.bp, 4), "precisions": [round(p, 4) for p in b.precisions],
            "bleu_signature": str(bleu.get_signature()), "chrf_signature": str(chrf.get_signature())}


def score_files(hyp_path: str | os.PathLike | None, ref_path: str | os.PathLike) -> dict:
    """score_corpus of two text files ('-' = stdin for the hypotheses); names the first extra line."""
    hyps, refs = list(iter_lines(hyp_path)), list(iter_lines(ref_path))
    if len(hyps) != len(refs):
        short, long_ = (hyp_path, ref_path) if len(hyps) < len(refs) else (ref_path, hyp_path)
        raise DataError(f"{display_name(short)} has {min(len(hyps), len(refs))} lines but "
                        f"{display_name(long_)}:{min(len(hyps), len(refs)) + 1} goes on; "
                        "hypotheses and references must be line-aligned")
    return score_corpus(hyps, refs)

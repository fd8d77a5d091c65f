"""Compare two ARPA files n-gram by n-gram and score a test text with both (bench helper).

    .venv/bin/python bench/ngram_compare.py ours.arpa lmplz.arpa test.tok

Prints one JSON record: n-gram counts, whether the n-gram sets are equal, max |diff| of log10
probabilities and backoffs, and test perplexity from kenlm.Model on each file and from
`speechlang ngram eval` on ours.
"""

import json
import sys

import kenlm

from speechlang.ngram.arpa import read_arpa
from speechlang.ngram.query import evaluate


def kenlm_ppl(path: str, test: str) -> tuple[float, float, int]:
    m = kenlm.Model(path)
    total = total_iv = 0.0
    tokens = oovs = 0
    with open(test, encoding="utf-8") as f:
        for line in f:
            for prob, _, oov in m.full_scores(line.strip()):
                total += prob
                tokens += 1
                if oov:
                    oovs += 1
                else:
                    total_iv += prob
    return 10 ** (-total / tokens), 10 ** (-total_iv / (tokens - oovs)), oovs


def main(ours: str, ref: str, test: str) -> None:
    a = read_arpa(ours)
    b = read_arpa(ref)
    rec = {"counts_ours": a.counts(), "counts_ref": b.counts(), "same_ngrams": True,
           "max_abs_diff_log10_prob": 0.0, "max_abs_diff_log10_backoff": 0.0}
    for n in range(max(a.order, b.order)):
        ta, tb = a.ngrams[n], b.ngrams[n]
        if ta.keys() != tb.keys():
            rec["same_ngrams"] = False
        for g, (p, bo) in ta.items():
            r = tb.get(g)
            if r is None:
                continue
            rec["max_abs_diff_log10_prob"] = max(rec["max_abs_diff_log10_prob"], abs(p - r[0]))
            rec["max_abs_diff_log10_backoff"] = max(rec["max_abs_diff_log10_backoff"], abs(bo - r[1]))
    del a, b
    ppl_a, ppl_a_iv, oov = kenlm_ppl(ours, test)
    ppl_b, ppl_b_iv, _ = kenlm_ppl(ref, test)
    ev, _ = evaluate(ours, test)
    rec.update({"test_ppl_ours_kenlm": ppl_a, "test_ppl_ref_kenlm": ppl_b,
                "test_ppl_ours_eval": ev.ppl, "test_ppl_no_oov_ours": ppl_a_iv,
                "test_ppl_no_oov_ref": ppl_b_iv, "test_oovs": oov,
                "ppl_rel_diff": abs(ppl_a - ppl_b) / ppl_b,
                "eval_vs_kenlm_rel_diff": abs(ev.ppl - ppl_a) / ppl_a})
    print(json.dumps(rec, sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:4])

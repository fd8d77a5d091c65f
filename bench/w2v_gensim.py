"""gensim Word2Vec (skip-gram, corpus_file mode) with speechlang's benchmark settings.

Run with the benchmark venv: .venv-bench/bin/python bench/w2v_gensim.py CORPUS OUT.bin --loss ns --threads 2
Prints one JSON record: vocabulary, timings, training words/s (in-vocabulary tokens x epochs
divided by the seconds of model.train) and gensim's own evaluation when eval files are given.
"""

import argparse
import json
import logging
import time

from gensim.models import Word2Vec

p = argparse.ArgumentParser()
p.add_argument("corpus")
p.add_argument("output")
p.add_argument("--loss", choices=["ns", "hs"], default="ns")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--dim", type=int, default=100)
p.add_argument("--window", type=int, default=5)
p.add_argument("--negative", type=int, default=5)
p.add_argument("--sample", type=float, default=1e-3)
p.add_argument("--min-count", type=int, default=5)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--analogies")
p.add_argument("--similarity", action="append", default=[])
a = p.parse_args()
logging.basicConfig(level=logging.WARNING)

t0 = time.perf_counter()
m = Word2Vec(sg=1, hs=int(a.loss == "hs"), negative=a.negative if a.loss == "ns" else 0,
             vector_size=a.dim, window=a.window, sample=a.sample, min_count=a.min_count,
             epochs=a.epochs, workers=a.threads, seed=a.seed, alpha=0.025, min_alpha=1e-4)
m.build_vocab(corpus_file=a.corpus)
t1, c1 = time.perf_counter(), time.process_time()
train_words = int(sum(m.wv.get_vecattr(w, "count") for w in m.wv.index_to_key))
effective, raw = m.train(corpus_file=a.corpus, total_words=m.corpus_total_words, epochs=a.epochs,
                         compute_loss=False)
t2, c2 = time.perf_counter(), time.process_time()
m.wv.save_word2vec_format(a.output, binary=True)
t3 = time.perf_counter()
rec = {"tool": f"gensim {__import__('gensim').__version__}", "loss": a.loss, "threads": a.threads,
       "vocab": len(m.wv), "train_words": train_words, "vocab_s": t1 - t0, "train_s": t2 - t1,
       "total_s": t3 - t0, "words_per_s": train_words * a.epochs / (t2 - t1), "train_cpu_s": c2 - c1,
       "words_per_cpu_s": train_words * a.epochs / (c2 - c1),
       "effective_words": effective, "raw_words": raw}
if a.analogies:
    score, sections = m.wv.evaluate_word_analogies(a.analogies)
    rec["gensim_analogy_accuracy"] = 100 * score
for path in a.similarity:
    pear, spear, oov = m.wv.evaluate_word_pairs(path)
    rho = spear.statistic if hasattr(spear, "statistic") else spear[0]
    rec[f"gensim_spearman_{path.rsplit('/', 1)[-1]}"] = float(rho)
print(json.dumps(rec))

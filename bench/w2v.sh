#!/usr/bin/env bash
# speechlang w2v against gensim's Word2Vec on the same corpus, settings and cores, in one run.
# usage: bench/w2v.sh DATA   (DATA = ../shared/data; gensim in .venv-bench)
# Per run LOSS:THREADS (default ns:2 hs:2 ns:1 hs:1): ours, then gensim right after it, so both
# see the same machine load; then both models of the first thread count are scored by one
# evaluation (`w2v eval`). Words/s = in-vocabulary tokens x epochs / training seconds (vocabulary
# pass and file writing excluded, for both); words per CPU-second is reported beside it.
set -euo pipefail
DATA=${1:?usage: bench/w2v.sh DATA}
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
GENSIM=${GENSIM:-.venv-bench/bin/python}
OUT=${OUT:-bench/out/w2v}
CORPUS=$DATA/text/w2v-mix.tok
EVAL=$DATA/eval
RUNS=${RUNS:-ns:2 hs:2 ns:1 hs:1}
SETTINGS=(--dim 100 --window 5 --negative 5 --sample 1e-3 --min-count 5 --epochs 5)
mkdir -p "$OUT"
test -x "$GENSIM" || { echo "no gensim: python3 -m venv .venv-bench && .venv-bench/bin/pip install gensim" >&2; exit 1; }

now() { date +%s.%N; }
for run in $RUNS; do
  loss=${run%:*}
  t=${run#*:}
  tag=$loss-t$t
  echo "== $tag: speechlang" >&2
  rm -f "$OUT/ours-$tag.jsonl"
  t0=$(now)
  $SL w2v train -i "$CORPUS" --loss "$loss" "${SETTINGS[@]}" --threads "$t" --backend numba \
    -O "$OUT/ours-$tag.bin" --metrics "$OUT/ours-$tag.jsonl" 2> "$OUT/ours-$tag.log"
  t1=$(now)
  echo "{\"total_s\": $(echo "$t1 - $t0" | bc)}" > "$OUT/ours-$tag.wall.json"
  echo "== $tag: gensim" >&2
  $GENSIM bench/w2v_gensim.py "$CORPUS" "$OUT/gensim-$tag.bin" --loss "$loss" --threads "$t" \
    "${SETTINGS[@]}" > "$OUT/gensim-$tag.json"
done
first=${RUNS%% *}
t=${first#*:}
losses=$(for run in $RUNS; do echo "${run%:*}"; done | sort -u | tr '\n' ' ')
threads=$(for run in $RUNS; do echo "${run#*:}"; done | sort -ru | tr '\n' ' ')
for loss in $losses; do
  for tool in ours gensim; do
    test -f "$OUT/$tool-$loss-t$t.bin" || continue
    $SL w2v eval -v "$OUT/$tool-$loss-t$t.bin" --analogies "$EVAL/questions-words.txt" \
      --similarity "$EVAL/wordsim353.tsv" --similarity "$EVAL/simlex999.txt" --json > "$OUT/$tool-$loss-eval.json"
  done
done
.venv/bin/python bench/w2v_summary.py "$OUT" $losses -- $threads

#!/usr/bin/env bash
# n-gram LMs side by side with KenLM's lmplz, in the same run (see bench/RESULTS.md).
#   bash bench/ngram.sh ../shared/data            # scales 1 and 10 (NGRAM_SCALES="1 10 50" for more)
# For each order and corpus scale (the train text repeated k times): wall time and peak RSS
# (/usr/bin/time -v) of `lmplz -S 1G` and of speechlang's train (engine only, and at 1x also
# through the full `speechlang` CLI, whose start-up imports every group); at 1x every n-gram's
# log10 prob/backoff against lmplz's ARPA and the test perplexity. The repeated texts are
# artificial (no top-order n-gram is seen once), so both tools use the fallback discounts there
# (lmplz gets --discount_fallback; it changes nothing where discounts can be estimated).
# Order-3 ARPAs are compared at every scale. Then counting with --workers 1 vs 2.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data}")
TRAIN=$DATA/text/bible-en.train.tok
TEST=$DATA/text/bible-en.test.tok
SCALES=${NGRAM_SCALES:-"1 10"}
ORDERS=${NGRAM_ORDERS:-"3 5"}
OUT=bench/out/ngram
LMPLZ=bench/build/kenlm/build/bin/lmplz
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
PY=.venv/bin/python
mkdir -p "$OUT/tmp"
[ -x "$LMPLZ" ] || bash bench/ngram_build_lmplz.sh

timed() {  # timed NAME CMD... : run, print "NAME wall_s rss_mb"
  local name=$1; shift
  /usr/bin/time -v "$@" 2> "$OUT/$name.log" || { tail -5 "$OUT/$name.log"; exit 1; }
  local wall rss
  wall=$(grep 'Elapsed (wall' "$OUT/$name.log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident' "$OUT/$name.log" | awk '{printf "%.0f", $NF/1024}')
  echo "$name $wall $rss"
}

# compile and cache the numba kernels first (not timed)
$PY bench/ngram_cli.py train -o 3 -i tests/fixtures/ngram/tiny.tok -O /dev/null 2>/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for k in $SCALES; do
  corpus=$OUT/train.x$k.tok
  [ -f "$corpus" ] || for _ in $(seq "$k"); do cat "$TRAIN"; done > "$corpus"
  for o in $ORDERS; do
    [ "$k" -ge 50 ] && [ "$o" -gt 3 ] && continue  # 50x only for order 3 (bounded run time)
    r=$(timed "lmplz.o$o.x$k" $LMPLZ -o "$o" -S 1G -T "$OUT/tmp" --discount_fallback --text "$corpus" --arpa "$OUT/lmplz.o$o.x$k.arpa")
    s=$(timed "ours.o$o.x$k" $PY bench/ngram_cli.py train -o "$o" -S 1G -T "$OUT/tmp" -i "$corpus" -O "$OUT/ours.o$o.x$k.arpa")
    echo "$r"; echo "$s"
    lw=$(echo "$r" | cut -d' ' -f2); lr=$(echo "$r" | cut -d' ' -f3)
    ow=$(echo "$s" | cut -d' ' -f2); orss=$(echo "$s" | cut -d' ' -f3)
    line="{\"bench\": \"ngram-train\", \"order\": $o, \"scale\": $k, \"lmplz_wall_s\": $lw, \"lmplz_rss_mb\": $lr, \"ours_wall_s\": $ow, \"ours_rss_mb\": $orss, \"time_ratio\": $(awk "BEGIN{printf \"%.3f\", $ow/$lw}"), \"rss_ratio\": $(awk "BEGIN{printf \"%.3f\", $orss/$lr}")"
    if [ "$k" = 1 ]; then
      c=$(timed "cli.o$o.x$k" .venv/bin/speechlang ngram train -o "$o" -S 1G -i "$corpus" -O "$OUT/cli.o$o.x$k.arpa")
      line="$line, \"cli_wall_s\": $(echo "$c" | cut -d' ' -f2)"
    fi
    if [ "$k" = 1 ] || [ "$o" = 3 ]; then
      cmp=$($PY bench/ngram_compare.py "$OUT/ours.o$o.x$k.arpa" "$OUT/lmplz.o$o.x$k.arpa" "$TEST" 2>/dev/null)
      line="$line, \"compare\": $cmp"
    fi
    echo "$line}"
    rm -f "$OUT/ours.o$o.x$k.arpa" "$OUT/lmplz.o$o.x$k.arpa" "$OUT/cli.o$o.x$k.arpa"
  done
done
# counting in 1 vs 2 worker processes (identical output), order 3 on the largest scale
k=$(echo "$SCALES" | tr ' ' '\n' | tail -1)
w1=$(timed "count.w1.x$k" $PY bench/ngram_cli.py count -o 3 -i "$OUT/train.x$k.tok" -O "$OUT/count.w1.txt")
w2=$(timed "count.w2.x$k" $PY bench/ngram_cli.py count -o 3 --workers 2 -i "$OUT/train.x$k.tok" -O "$OUT/count.w2.txt")
same=$(cmp -s "$OUT/count.w1.txt" "$OUT/count.w2.txt" && echo true || echo false)
echo "$w1"; echo "$w2"
echo "{\"bench\": \"ngram-count-workers\", \"scale\": $k, \"workers1_wall_s\": $(echo "$w1" | cut -d' ' -f2), \"workers2_wall_s\": $(echo "$w2" | cut -d' ' -f2), \"identical\": $same}"
rm -f "$OUT/count.w1.txt" "$OUT/count.w2.txt"

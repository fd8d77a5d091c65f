#!/usr/bin/env bash
# bench/nmt.sh DIR [TEST_PREFIX...]: en->es NMT on DIR/bible.{train,dev,test}.{en,es}.
# Trains the best configuration (dev for early stopping), averages the last 2 and the last 5
# epoch checkpoints, picks last or an average on dev BLEU, then translates DIR/bible.test.en and
# each TEST_PREFIX.en and prints one JSON line per test set as the last output:
#   {"test": PREFIX, "bleu": ..., "chrf": ..., "train_minutes": ..., ...}
# Also scored on the first test set (into $OUT/compare.jsonl): greedy vs beam, last vs averaged.
# Environment: NMT_ARCH (transformer | lstm-attention), NMT_MINUTES (training wall-time budget),
# NMT_TRAIN_ARGS (extra `nmt train` options), OUT (work dir), THREADS.
set -euo pipefail
DIR=${1:?usage: bench/nmt.sh DIR [TEST_PREFIX...]}
shift
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
ARCH=${NMT_ARCH:-transformer}
MINUTES=${NMT_MINUTES:-55}
THREADS=${THREADS:-0}
OUT=${OUT:-bench/out/nmt}
RUN=$OUT/$ARCH
mkdir -p "$OUT"

case $ARCH in
  transformer) ARCH_ARGS="--embed-dim 256 --ff-dim 1024 --heads 4 --enc-layers 3 --dec-layers 3
                          --dropout 0.2 --share-embeddings --lr 1e-3 --warmup-steps 400" ;;
  lstm-attention) ARCH_ARGS="--embed-dim 256 --hidden-dim 256 --attention multiplicative
                             --dropout 0.2 --lr 1e-3 --warmup-steps 200" ;;
  *) echo "unknown NMT_ARCH $ARCH" >&2; exit 2 ;;
esac

[ -f "$OUT/data/meta.json" ] || $SL nmt prepare --train "$DIR/bible.train" --dev "$DIR/bible.dev" \
  --src en --tgt es --model-type unigram --vocab-size 8000 --joint -o "$OUT/data"

# shellcheck disable=SC2086
$SL nmt train -d "$OUT/data" -o "$RUN" --arch "$ARCH" $ARCH_ARGS --max-tokens 2048 \
  --label-smoothing 0.1 --epochs 60 --max-minutes "$MINUTES" --patience 4 --monitor bleu \
  --keep-epochs 5 --dev-bleu-sents 400 --threads "$THREADS" --json ${NMT_TRAIN_ARGS:-} > "$RUN.train.json"
TRAIN_MIN=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['train_minutes'])" "$RUN.train.json")

# averages of the last 2 and the last 5 epoch checkpoints (2: for runs cut while still improving)
CKPTS="checkpoint_last checkpoint_avg2 checkpoint_avg5"
for n in 2 5; do $SL nmt average --run-dir "$RUN" --last $n -O "$RUN/checkpoint_avg$n.pt"; done

tr() {  # tr CKPT BEAM SRC OUTFILE
  $SL nmt translate -m "$1" --beam "$2" --len-penalty 1.0 --threads "$THREADS" -i "$3" -O "$4"
}
# last vs averaged, chosen on dev (greedy, so the choice is cheap)
best=""; best_bleu=-1
for ck in $CKPTS; do
  tr "$RUN/$ck.pt" 1 "$DIR/bible.dev.en" "$RUN/dev.$ck.greedy.es"
  b=$($SL nmt score -r "$DIR/bible.dev.es" -i "$RUN/dev.$ck.greedy.es" --json | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['bleu'])")
  echo "dev $ck greedy BLEU $b" >&2
  if .venv/bin/python -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$b" "$best_bleu"; then
    best=$ck; best_bleu=$b
  fi
done
echo "chosen on dev: $best" >&2

# greedy vs beam, last vs averaged on the first test set
T0=$DIR/bible.test
: > "$OUT/compare.$ARCH.jsonl"
for ck in $CKPTS; do
  for beam in 1 5; do
    s=$(date +%s.%N)
    tr "$RUN/$ck.pt" $beam "$T0.en" "$RUN/test.$ck.beam$beam.es"
    secs=$(.venv/bin/python -c "import sys,time; print(round(time.time()-float(sys.argv[1]),1))" "$s")
    $SL nmt score -r "$T0.es" -i "$RUN/test.$ck.beam$beam.es" --json | .venv/bin/python -c \
      "import json,sys; r=json.load(sys.stdin); print(json.dumps({'arch':'$ARCH','checkpoint':'$ck','beam':$beam,'bleu':r['bleu'],'chrf':r['chrf'],'translate_s':$secs}))" \
      >> "$OUT/compare.$ARCH.jsonl"
  done
done
cat "$OUT/compare.$ARCH.jsonl" >&2

for prefix in "$T0" "$@"; do
  hyp="$RUN/$(basename "$prefix").hyp.es"
  if [ "$prefix" = "$T0" ]; then cp "$RUN/test.$best.beam5.es" "$hyp"
  else tr "$RUN/$best.pt" 5 "$prefix.en" "$hyp"; fi
  $SL nmt score -r "$prefix.es" -i "$hyp" --json | .venv/bin/python -c \
    "import json,sys; r=json.load(sys.stdin); print(json.dumps({'test':'$prefix','bleu':r['bleu'],'chrf':r['chrf'],'train_minutes':$TRAIN_MIN,'arch':'$ARCH','checkpoint':'$best','beam':5,'signature':r['bleu_signature']}))"
done

#!/usr/bin/env bash
# bench/nmt_output_layers.sh DATA: full vs sampled vs hierarchical softmax over a word vocabulary,
# and model parallelism, on Bible en->es (DATA/parallel/bible.{train,dev,test}.{en,es}, or DATA/bible.*).
#  1. prepare: word vocabularies holding every training type (--model-type word --vocab-size 0
#     --separate); dev cut to its first DEV_SENTS pairs (the full-softmax dev loss costs a pass over V)
#  2. per output layer: the same Transformer trained for NMT_MINUTES (same seed, batches, optimizer),
#     then the first TEST_SENTS test verses translated with greedy search and scored (BLEU, chrF)
#  3. model parallel: the MP_LAYER model trained for MP_MINUTES in one process (THREADS threads) and
#     in two (--model-parallel 2 --micro-batches MICRO_BATCHES, THREADS/2 threads each): tokens/s,
#     parameter and activation bytes and peak RSS per process
# One JSON line per run goes to stdout and $OUT/results.jsonl, then a markdown table.
# Defaults take about 20 minutes on 2 cores. Tiny check: NMT_MINUTES=0.2 MP_MINUTES=0.2 TEST_SENTS=20.
# Environment: NMT_MINUTES (4), MP_MINUTES (1), SAMPLED_K (1024), MP_LAYER (sampled), MICRO_BATCHES (2),
# THREADS (2), DEV_SENTS (300), TEST_SENTS (500), TRAIN_SENTS (0: all), NMT_TRAIN_ARGS, OUT.
set -euo pipefail
DATA=${1:?usage: bench/nmt_output_layers.sh DATA}
cd "$(dirname "$0")/.."
DATA=$(realpath "$DATA")
[ -f "$DATA/parallel/bible.train.en" ] && DATA=$DATA/parallel
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
PY=.venv/bin/python
MINUTES=${NMT_MINUTES:-4}
MP_MINUTES=${MP_MINUTES:-1}
SAMPLED_K=${SAMPLED_K:-1024}
MP_LAYER=${MP_LAYER:-sampled}
MICRO=${MICRO_BATCHES:-2}
THREADS=${THREADS:-2}
DEV_SENTS=${DEV_SENTS:-300}
TEST_SENTS=${TEST_SENTS:-500}
TRAIN_SENTS=${TRAIN_SENTS:-0}
OUT=${OUT:-bench/out/nmt_output_layers}
REPORT=bench/nmt_output_layers_report.py
mkdir -p "$OUT/text"
: > "$OUT/results.jsonl"

cut_to() {  # cut_to N SRC DST: the first N lines (all when N is 0)
  if [ "$1" -gt 0 ]; then head -n "$1" "$2" > "$3"; else cp "$2" "$3"; fi
}
for l in en es; do
  cut_to "$TRAIN_SENTS" "$DATA/bible.train.$l" "$OUT/text/train.$l"
  cut_to "$DEV_SENTS" "$DATA/bible.dev.$l" "$OUT/text/dev.$l"
  cut_to "$TEST_SENTS" "$DATA/bible.test.$l" "$OUT/text/test.$l"
done
$SL nmt prepare --train "$OUT/text/train" --dev "$OUT/text/dev" --src en --tgt es --model-type word \
  --vocab-size 0 --separate --max-len 250 --max-ratio 3 -o "$OUT/data.tmp" --json > "$OUT/prepare.json"
rm -rf "$OUT/data" && mv "$OUT/data.tmp" "$OUT/data"
$PY -c "import json,sys; m=json.load(open(sys.argv[1])); print('word vocabularies (specials included):', m['vocab_size'], file=sys.stderr)" "$OUT/prepare.json"

MODEL="--arch transformer --embed-dim 256 --ff-dim 1024 --heads 4 --enc-layers 2 --dec-layers 2 --dropout 0.1
       --no-share-embeddings --lr 1e-3 --warmup-steps 200 --max-tokens 2048 --clip-norm 1 --seed 1"
layer_args() {  # the options of one output layer
  case $1 in
    full) echo "--output-layer full --label-smoothing 0.1" ;;
    sampled) echo "--output-layer sampled --sampled-k $SAMPLED_K --sampled-proposal log-uniform" ;;
    hierarchical) echo "--output-layer hierarchical" ;;
  esac
}

for layer in full sampled hierarchical; do
  run=$OUT/$layer
  rm -rf "$run"
  # shellcheck disable=SC2046,SC2086
  $SL nmt train -d "$OUT/data" -o "$run" $MODEL $(layer_args $layer) --epochs 100 --max-minutes "$MINUTES" \
    --patience 0 --monitor dev_loss --keep-epochs 0 --dev-bleu-sents 200 --threads "$THREADS" --json \
    ${NMT_TRAIN_ARGS:-} > "$run.train.json"
  s=$(date +%s.%N)
  $SL nmt translate -m "$run/checkpoint_last.pt" --beam 1 --batch-size 64 --threads "$THREADS" \
    -i "$OUT/text/test.en" -O "$run/test.hyp.es"
  secs=$($PY -c "import sys,time; print(round(time.time()-float(sys.argv[1]),1))" "$s")
  $SL nmt score -r "$OUT/text/test.es" -i "$run/test.hyp.es" --json > "$run.score.json"
  $PY $REPORT run "$layer" "$run" "$secs" | tee -a "$OUT/results.jsonl"
done

# model parallelism beside one process: same model, data, seed and time budget
for mp in 1 2; do
  run=$OUT/mp$mp
  rm -rf "$run"
  extra=""; [ "$mp" = 2 ] && extra="--model-parallel 2 --micro-batches $MICRO"
  # shellcheck disable=SC2046,SC2086
  /usr/bin/time -f "%M" -o "$run.maxrss_kb" $SL nmt train -d "$OUT/data" -o "$run" $MODEL $(layer_args "$MP_LAYER") \
    --epochs 100 --max-minutes "$MP_MINUTES" --patience 0 --monitor dev_loss --keep-epochs 0 --dev-bleu-sents 20 \
    --threads "$THREADS" --json $extra ${NMT_TRAIN_ARGS:-} > "$run.train.json"
  $PY $REPORT mp "$mp" "$run" "$OUT/data" | tee -a "$OUT/results.jsonl"
done

$PY $REPORT table "$OUT/results.jsonl"

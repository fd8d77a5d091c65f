#!/usr/bin/env bash
# Scale-out on one machine: 1 vs 2 processes for each torch trainer, Hogwild vs synchronous
# data-parallel training on the same time budget, and a mixture-of-experts head vs a dense one.
#
#   bash bench/scaleout.sh DATA [OUT]          # DATA = ../shared/data; about 14 minutes on 2 cores
#
# 1. `accel bench --trainer vision|nmt|asr-dnn --procs 2`: synthetic batches, 1 thread per
#    process, items/s at 1 and 2 processes and the scaling efficiency.
# 2. LeNet on Fashion-MNIST for VIS_EPOCHS epochs: 1 process x 2 threads against torchrun with
#    2 processes x 1 thread (the same global batch of 128), images/s and test accuracy.
# 3. Hogwild vs synchronous (torchrun, 2 x 1 thread) on the same BUDGET minutes: LeNet (test
#    accuracy) and the word2vec torch path on w2v-mix (WordSim-353 Spearman, analogy accuracy).
# 4. LeNet with a 4-expert hard-MoE head vs the dense head (1 process, 2 threads, BUDGET
#    minutes each): parameters, multiply-adds per image, test accuracy.
# Every step writes OUT/NAME.json (skipped when it exists, so an interrupted run continues);
# bench/scaleout_report.py OUT prints the tables of bench/RESULTS.md's scale-out section.
# Knobs (environment): STEPS (30), BUDGET (1 minute), VIS_EPOCHS (1), W2V_EPOCHS (3),
# VALID (5000 held-out training images), PORT (29517, torchrun's).
set -euo pipefail
DATA=$(realpath "${1:?usage: bench/scaleout.sh DATA [OUT]}")
OUT=$(realpath -m "${2:-bench/out/scaleout}")
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
PY=${PY:-.venv/bin/python}
TORCHRUN=${TORCHRUN:-.venv/bin/torchrun}
STEPS=${STEPS:-30}
BUDGET=${BUDGET:-1}
VIS_EPOCHS=${VIS_EPOCHS:-1}
W2V_EPOCHS=${W2V_EPOCHS:-3}
VALID=${VALID:-5000}
FM=$DATA/images/fashion-mnist
TRAIN=$FM/train-images-idx3-ubyte.gz
TEST=$FM/t10k-images-idx3-ubyte.gz
CORPUS=$DATA/text/w2v-mix.tok
EVAL=$DATA/eval
DDP=("$TORCHRUN" --nproc_per_node 2 --master_port "${PORT:-29517}" -m speechlang.cli.main)
mkdir -p "$OUT"

source bench/step.sh  # step NAME CMD...

# 1. data-parallel scaling of each trainer's model on synthetic batches
for t in vision nmt asr-dnn; do
  step "bench-$t" $SL accel bench --trainer "$t" --procs 2 --steps "$STEPS" --threads 1 --device cpu --json
done

# 2. a real run: LeNet, 1 process x 2 threads vs 2 processes x 1 thread, global batch 128
LENET=(--arch lenet --valid "$VALID" --device cpu --json)
step vision-1proc $SL --quiet vision train --train "$TRAIN" -o "$OUT/vision-1proc" "${LENET[@]}" \
    --epochs "$VIS_EPOCHS" --batch-size 128 --threads 2
step vision-2proc "${DDP[@]}" --quiet vision train --train "$TRAIN" -o "$OUT/vision-2proc" "${LENET[@]}" \
    --epochs "$VIS_EPOCHS" --batch-size 64 --threads 1
for r in vision-1proc vision-2proc; do
  step "$r.eval" $SL vision eval -m "$OUT/$r" -d "$TEST" --device cpu --threads 2 --json
done

# 3. Hogwild vs synchronous on the same time budget (constant LR: a schedule would depend on
#    how far each run gets)
SAME=(--epochs 50 --max-minutes "$BUDGET" --schedule constant --warmup-steps 0 --batch-size 64 --threads 1)
step lenet-sync "${DDP[@]}" --quiet vision train --train "$TRAIN" -o "$OUT/lenet-sync" "${LENET[@]}" "${SAME[@]}"
step lenet-hogwild $SL --quiet vision train --train "$TRAIN" -o "$OUT/lenet-hogwild" "${LENET[@]}" "${SAME[@]}" \
    --hogwild 2
for r in lenet-sync lenet-hogwild; do
  step "$r.eval" $SL vision eval -m "$OUT/$r" -d "$TEST" --device cpu --threads 2 --json
done
W2V=(-i "$CORPUS" --backend torch --device cpu --threads 1 --dim 100 --window 5 --negative 5 --min-count 5
     --epochs "$W2V_EPOCHS" --max-minutes "$BUDGET")
w2v_run() {  # w2v_run NAME CMD...: train (per-epoch JSON lines), then evaluate the vectors
  local name=$1; shift
  if [ ! -f "$OUT/$name.jsonl" ]; then
    echo "== $name: $*" >&2
    rm -f "$OUT/$name.jsonl.tmp"
    "$@" -O "$OUT/$name.bin" --metrics "$OUT/$name.jsonl.tmp" 2> "$OUT/$name.log"
    mv "$OUT/$name.jsonl.tmp" "$OUT/$name.jsonl"
  fi
  step "$name.eval" $SL w2v eval -v "$OUT/$name.bin" --analogies "$EVAL/questions-words.txt" \
      --similarity "$EVAL/wordsim353.tsv" --json
}
w2v_run w2v-sync "${DDP[@]}" w2v train "${W2V[@]}"
w2v_run w2v-hogwild $SL w2v train "${W2V[@]}" --hogwild 2

# 4. a 4-expert hard-MoE head (the hidden layer + classifier, 4 times) vs the dense head
MOE=(--epochs 50 --max-minutes "$BUDGET" --threads 2)
step lenet-dense $SL --quiet vision train --train "$TRAIN" -o "$OUT/lenet-dense" "${LENET[@]}" "${MOE[@]}"
step lenet-moe $SL --quiet vision train --train "$TRAIN" -o "$OUT/lenet-moe" "${LENET[@]}" "${MOE[@]}" --moe-experts 4
for r in lenet-dense lenet-moe; do
  step "$r.eval" $SL vision eval -m "$OUT/$r" -d "$TEST" --device cpu --threads 2 --json
done

$PY bench/scaleout_report.py "$OUT"

#!/usr/bin/env bash
# Fashion-MNIST benchmark of `speechlang vision`: residual net and LeNet accuracy and training
# time, our loop's images/s beside a plain PyTorch loop, pruning 80% + int8, distillation.
#
#   bash bench/vision.sh /path/to/fashion-mnist [OUT]
#
# DIR holds the IDX files (train-images-idx3-ubyte.gz, t10k-...). Every step writes
# OUT/NAME.json and is skipped when that exists, so an interrupted run continues. Choices are
# made on a 5000-image validation split held out of train; the test set is only evaluated.
# The last three lines on stdout are JSON records for the float residual net (with test-time
# augmentation when it helps on validation), the pruned+int8 model and the distilled student.
# The residual net trains under bf16 autocast (about 2x the images/s of fp32 on CPUs with
# AVX512-BF16; master weights stay fp32) with random erasing, which is what fits 24 epochs
# in the 15 minutes. Knobs (environment): THREADS (2), EPOCHS (24, residual net), PRECISION
# (bf16, residual net), ERASE (0.5, residual net), LENET_EPOCHS (12), STUDENT_EPOCHS (12),
# FT_EPOCHS (2, fine-tuning after pruning), SPEED_IMAGES (10000).
set -euo pipefail
DIR=${1:?usage: bench/vision.sh FASHION_MNIST_DIR [OUT]}
OUT=${2:-bench/out/vision}
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
PY=${PY:-.venv/bin/python}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-24}
PRECISION=${PRECISION:-bf16}
ERASE=${ERASE:-0.5}
LENET_EPOCHS=${LENET_EPOCHS:-12}
STUDENT_EPOCHS=${STUDENT_EPOCHS:-12}
FT_EPOCHS=${FT_EPOCHS:-2}
SPEED_IMAGES=${SPEED_IMAGES:-10000}
STUDENT=(--arch resnet --model-opt widths=8,16,32)
TRAIN=$DIR/train-images-idx3-ubyte.gz
TEST=$DIR/t10k-images-idx3-ubyte.gz
RUN=(--threads "$THREADS" --device cpu)
mkdir -p "$OUT"

source "$(dirname "${BASH_SOURCE[0]}")/step.sh"  # step NAME CMD...

# 1. residual net and LeNet (default configurations)
step resnet $SL --quiet vision train --train "$TRAIN" -o "$OUT/resnet" --arch resnet --epochs "$EPOCHS" \
    --precision "$PRECISION" --erase "$ERASE" "${RUN[@]}" --json
step resnet.eval $SL vision eval -m "$OUT/resnet" -d "$TEST" "${RUN[@]}" --json --confusion-png "$OUT/resnet.confusion.png"
# test-time augmentation (mirror), used on test only when it helps on the run's validation split
step resnet.tta $PY bench/vision_tta.py "$OUT/resnet" "$TRAIN" --threads "$THREADS"
if $PY -c "import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))['tta'] else 1)" "$OUT/resnet.tta.json"; then
  step resnet.eval.tta $SL vision eval -m "$OUT/resnet" -d "$TEST" "${RUN[@]}" --json --tta
fi
step lenet $SL --quiet vision train --train "$TRAIN" -o "$OUT/lenet" --arch lenet --epochs "$LENET_EPOCHS" "${RUN[@]}" --json
step lenet.eval $SL vision eval -m "$OUT/lenet" -d "$TEST" "${RUN[@]}" --json

# 2. images/s of speechlang.accel.fit beside a hand-written loop: same model, data, batches
step speed $PY bench/vision_loop_speed.py "$TRAIN" --images "$SPEED_IMAGES" --threads "$THREADS"

# 3. compression: prune 80% (global) + fine-tune + int8; distilled student; the student alone
step pruned $SL --quiet vision compress prune -m "$OUT/resnet" --train "$TRAIN" -d "$TEST" -o "$OUT/pruned" \
    --sparsity 0.8 --scope global --int8 --epochs "$FT_EPOCHS" "${RUN[@]}" --json
step student_alone $SL --quiet vision train --train "$TRAIN" -o "$OUT/student_alone" "${STUDENT[@]}" \
    --epochs "$STUDENT_EPOCHS" "${RUN[@]}" --json
step student_alone.eval $SL vision eval -m "$OUT/student_alone" -d "$TEST" "${RUN[@]}" --json
step distilled $SL --quiet vision compress distill --teacher "$OUT/resnet" --train "$TRAIN" -d "$TEST" \
    -o "$OUT/distilled" "${STUDENT[@]}" --epochs "$STUDENT_EPOCHS" "${RUN[@]}" --json
step cascade $SL vision cascade --small "$OUT/lenet" --large "$OUT/resnet" -d "$TEST" --threshold 0.9 "${RUN[@]}" --json

$PY bench/vision_report.py "$OUT"

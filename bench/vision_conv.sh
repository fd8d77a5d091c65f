#!/usr/bin/env bash
# Fashion-MNIST: LeNet with ordinary, locally connected and tiled convolutions (lenet,
# lenet-local, lenet-tiled) under the same short budget: parameters, test accuracy, images/s.
#
#   bash bench/vision_conv.sh DATA [OUT]
#
# DATA is the data root: DATA/images/fashion-mnist holds the IDX files. Every step writes
# OUT/NAME.json and is skipped when that exists, so an interrupted run continues. The
# 5000-image validation split held out of train picks the best epoch; the test set is only
# evaluated. The last lines on stdout are a Markdown table (bench/RESULTS.md), one row per model.
# Knobs (environment): EPOCHS (2 per model), TILES (2, lenet-tiled's tile size), THREADS (2),
# VALID (5000).
set -euo pipefail
DATA=${1:?usage: bench/vision_conv.sh DATA [OUT]}
OUT=${2:-bench/out/vision_conv}
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-2}
TILES=${TILES:-2}
THREADS=${THREADS:-2}
VALID=${VALID:-5000}
DIR=$DATA/images/fashion-mnist
TRAIN=$DIR/train-images-idx3-ubyte.gz
TEST=$DIR/t10k-images-idx3-ubyte.gz
RUN=(--threads "$THREADS" --device cpu)
[ -f "$TRAIN" ] || { echo "bench/vision_conv.sh: $TRAIN not found (DATA is the folder holding images/)" >&2; exit 1; }
mkdir -p "$OUT"

source "$(dirname "${BASH_SOURCE[0]}")/step.sh"  # step NAME CMD...

# the same LeNet options (channels 32,64, 5x5, fc 256), schedule, seed and augmentation for all three
for arch in lenet lenet-local lenet-tiled; do
  opts=()
  [ "$arch" = lenet-tiled ] && opts=(--model-opt "tiles=$TILES")
  step "$arch" $SL --quiet vision train --train "$TRAIN" -o "$OUT/$arch" --arch "$arch" "${opts[@]}" \
      --epochs "$EPOCHS" --valid "$VALID" "${RUN[@]}" --json
  step "$arch.eval" $SL vision eval -m "$OUT/$arch" -d "$TEST" "${RUN[@]}" --json
done

$PY bench/vision_conv_report.py "$OUT" lenet lenet-local lenet-tiled

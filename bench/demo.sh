#!/usr/bin/env bash
# `make demo`: speechlang end to end on the small data shipped in the repo (tests/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
SL=.venv/bin/speechlang
OUT=exp/demo
mkdir -p "$OUT"

echo "== accel: machine and a training run through the shared loop"
$SL accel info
$SL accel check --epochs 30 --output-dir "$OUT/check"

for group in ngram w2v asr nmt vision; do
  if [ -f "bench/demo_$group.sh" ]; then
    # shellcheck source=/dev/null
    source "bench/demo_$group.sh"
  fi
done
echo "== demo finished: outputs in $OUT"

#!/usr/bin/env bash
# `make bench DATA=...`: every group's side-by-side benchmark on the full corpora.
# Each script prints its figures and a last JSON line per result; see bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:-../shared/data}")
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=.venv/bin/speechlang
mkdir -p bench/out
# reference tools live apart from the project's venv (lmplz is built by bench/ngram.sh)
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install --quiet gensim hmmlearn
fi
echo "== accel"
$SL accel info | tee bench/out/accel-info.txt
$SL accel bench --json | tee bench/out/accel-bench.json
[ -x bench/ngram.sh ] && bash bench/ngram.sh "$DATA" | tee bench/out/ngram.txt
[ -x bench/w2v.sh ] && bash bench/w2v.sh "$DATA" | tee bench/out/w2v.txt
if [ -x bench/asr.sh ]; then  # digits starts from, and trains jointly with, fillets-cs (real speech)
  bash bench/asr.sh "$DATA/speech/fillets-cs" | tee bench/out/asr-fillets-cs.txt
  AUX_EXP=exp/asr/fillets-cs bash bench/asr.sh "$DATA/speech/digits" | tee bench/out/asr-digits.txt
fi
[ -x bench/nmt.sh ] && bash bench/nmt.sh "$DATA/parallel" | tee bench/out/nmt.txt
[ -x bench/vision.sh ] && bash bench/vision.sh "$DATA/images/fashion-mnist" | tee bench/out/vision.txt
echo "== vision: locally connected and tiled convolutions"
bash bench/vision_conv.sh "$DATA" bench/out/vision_conv | tee bench/out/vision_conv.txt
echo "== nmt: output layers and model parallelism"
bash bench/nmt_output_layers.sh "$DATA" | tee bench/out/nmt_output_layers.txt
echo "== scale-out"
bash bench/scaleout.sh "$DATA" bench/out/scaleout | tee bench/out/scaleout.txt
exit 0

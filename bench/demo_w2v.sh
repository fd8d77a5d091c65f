# w2v (sourced by `make demo` from the repo root with SL and OUT set): skip-gram vectors on
# the shipped Bible text (tests/fixtures/w2v), nearest neighbours, an analogy, an evaluation.
echo "== w2v: skip-gram NS (numba, binary) and HS (from stdin, text) on WEB Genesis-Leviticus"
mkdir -p "$OUT/w2v"
W2V_FIX=tests/fixtures/w2v
$SL w2v train -i "$W2V_FIX/web-gen-num.tok" --loss ns --dim 50 --min-count 3 --epochs 5 --threads 1 \
  --save-vocab "$OUT/w2v/vocab.txt" -O "$OUT/w2v/ns.bin"
$SL w2v train --loss hs --dim 50 --min-count 3 --epochs 5 --threads 1 < "$W2V_FIX/web-gen-num.tok" > "$OUT/w2v/hs.txt"
echo "-- nearest to 'gold' (ns):"
$SL w2v similar gold -v "$OUT/w2v/ns.bin" -k 5
echo "-- son : daughter = brother : ? (hs):"
$SL w2v analogy son daughter brother -v "$OUT/w2v/hs.txt" -k 3
echo "-- analogy accuracy on $W2V_FIX/family-analogies.txt:"
$SL w2v eval -v "$OUT/w2v/ns.bin" --analogies "$W2V_FIX/family-analogies.txt"

# `make demo`, ngram part (run from the repo root with SL and OUT set): count, train with
# modified Kneser-Ney (as lmplz) and Witten-Bell, evaluate, query, sample, prune and mix.
F=tests/fixtures/ngram
echo "== ngram: n-gram language models on a small Bible sample"
$SL ngram train -o 3 -i $F/bible-train-small.tok -O "$OUT/ngram.mkn.arpa"
$SL ngram train -o 3 --smoothing wb -i $F/bible-train-small.tok -O "$OUT/ngram.wb.arpa"
$SL ngram eval --lm "$OUT/ngram.mkn.arpa" -i $F/bible-test-small.tok
echo "in the beginning god created the heavens" | $SL ngram query --lm "$OUT/ngram.mkn.arpa"
$SL ngram sample --lm "$OUT/ngram.mkn.arpa" -n 3 --seed 1
$SL ngram prune --lm "$OUT/ngram.mkn.arpa" --threshold 1e-6 -O "$OUT/ngram.pruned.arpa"
$SL ngram mix "$OUT/ngram.mkn.arpa" "$OUT/ngram.wb.arpa" --tune-on $F/bible-dev-small.tok -O "$OUT/ngram.mix.arpa"
$SL ngram eval --lm "$OUT/ngram.mix.arpa" -i $F/bible-test-small.tok --json

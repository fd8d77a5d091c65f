# `make demo` snippet (SL and OUT are set by the caller): NMT end to end on the digit-reversal toy
# in tests/fixtures/nmt: subwords, a small Transformer, beam search, checkpoint averaging, BLEU.
echo "== nmt: learn to reverse digit strings (prepare, train, average, translate, score)"
F=tests/fixtures/nmt
mkdir -p "$OUT/nmt"
$SL nmt prepare --train $F/toy.train --dev $F/toy.dev --src src --tgt tgt --vocab-size 32 -o "$OUT/nmt/data"
$SL nmt train -d "$OUT/nmt/data" -o "$OUT/nmt/tf" --arch transformer --embed-dim 64 --ff-dim 128 --heads 4 \
  --enc-layers 2 --dec-layers 2 --dropout 0 --label-smoothing 0 --lr 2e-3 --warmup-steps 100 \
  --max-tokens 300 --epochs 8 --keep-epochs 2 --device cpu --threads 1
$SL nmt average --run-dir "$OUT/nmt/tf" --last 2 -O "$OUT/nmt/tf/checkpoint_avg.pt"
$SL nmt translate -m "$OUT/nmt/tf/checkpoint_avg.pt" --beam 5 --threads 1 -i $F/toy.test.src -O "$OUT/nmt/test.hyp"
paste $F/toy.test.src "$OUT/nmt/test.hyp" | sed -n 1,3p  # sed reads all: no SIGPIPE under pipefail
$SL nmt score -r $F/toy.test.tgt -i "$OUT/nmt/test.hyp"

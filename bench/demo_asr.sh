# `make demo` part for asr: the GMM-HMM pipeline on the synthetic tones corpus (tests/fixtures).
# Expects SL (the speechlang program) and OUT (an output dir) to be set.
T=tests/fixtures/asr/tones
D="$OUT/asr"
mkdir -p "$D"
echo "== asr: validate, features, mono, align, tri, LM, decode, score (tones corpus)"
$SL asr validate "$T/train"
$SL asr features "$T/train" "$D/feats_train"
$SL asr features "$T/test" "$D/feats_test"
$SL asr train-mono "$D/feats_train" "$T/lexicon.txt" "$D/mono" --iters 8 --gaussians 40
$SL asr align "$D/feats_train" "$D/mono" "$D/mono_ali"
head -3 "$D/mono_ali/words.ctm"
$SL asr train-tri "$D/feats_train" "$D/mono_ali" "$D/tri" --states 24 --gaussians 60 --iters 4 --min-leaf-count 20
cut -d' ' -f2- "$T/train/text" | $SL ngram train -o 2 --smoothing wb > "$D/lm.arpa"
$SL asr decode "$D/feats_test" "$D/tri" --lm "$D/lm.arpa" --lm-weight 5 --ctm "$D/hyp.ctm" -O "$D/hyp.txt"
$SL asr score "$T/test/text" "$D/hyp.txt"
echo "== asr: hybrid DNN-HMM on the triphone alignments, decode, transcribe (tones corpus)"
$SL asr align "$D/feats_train" "$D/tri" "$D/tri_ali"
$SL asr train-dnn "$D/feats_train" "$D/tri_ali" "$D/tri" "$D/dnn" --hidden 64 --layers 2 --epochs 4 \
  --lm "$D/lm.arpa" --lm-weight 5
$SL asr decode "$D/feats_test" "$D/dnn" --lm-weight 5 -O "$D/hyp_dnn.txt"
$SL asr score "$T/test/text" "$D/hyp_dnn.txt"
$SL asr transcribe --model "$D/dnn" "$T"/audio/t1/*.flac --ctm "$D/transcribe.ctm"

#!/usr/bin/env bash
# GMM-HMM and hybrid DNN-HMM recipe: features, monophones, tied triphones, speaker-adaptive
# training (fMLLR, two-pass decoding), DNN on the triphone alignments, LM, decoding, scoring.
#
#   bench/asr.sh CORPUS [TEST_DIR ...]
#
# CORPUS holds train/, test/ and lexicon.txt (wav.scp paths relative to CORPUS, as in
# ../shared/data/speech/digits). Every 10th training utterance (C order) is held out as a dev
# set (`asr split`; DEV_SPLIT=speaker: all utterances of every 10th speaker): the acoustic
# models are trained on the rest, the LM weight is chosen on dev (never on a test set), then
# CORPUS/test and every TEST_DIR are decoded. The LM is trained with
# `speechlang ngram train` on CORPUS/train/text minus the dev utterances. The last output is
# one JSON line per (stage, test dir).
#
# Settings (environment): EXP (exp/asr/NAME), DEV_SPLIT (utterance, or speaker), ORDER (3),
# MONO_ITERS (25), MONO_GAUSS (1000), TRI_ITERS (16), TRI_STATES (500), TRI_GAUSS (4000),
# LM_WEIGHTS ("4 6 8 10 12 14 16"),
# LDA_DIM (40: the tri2 stage's --lda-dim), BEAM (160), THREADS (1), FEAT_OPTS (extra
# `asr features` options, e.g. "--norm-vars" or "--cmvn-frames speech"),
# DNN_FEAT_OPTS (when set, the dnn and dnn2 stages read their own features, made with these
# `asr features` options instead of FEAT_OPTS, e.g. "--kind fbank --num-mel-bins 40 --no-energy"),
# DNN_ARCH (tdnn: `asr train-dnn --arch`, chosen on dev over dnn, the feed-forward network),
# DNN_CONTEXT (frames each side, `--context`: 8 for the TDNN, chosen on dev over 5; 5 for dnn),
# DNN_OPTS (extra `asr train-dnn` options, e.g. "--epochs 8"), DNN_THREADS (1),
# AUX_EXP (an EXP of this recipe on another corpus with the same features, e.g.
# exp/asr/fillets-cs: the dnn and dnn2 networks start from the hidden layers of its dnn
# (`--init --transfer`) and train jointly on its training features and tri alignments as an
# auxiliary task (`--aux-feats`, `--aux-ali`); `make bench` sets it to the fillets-cs EXP for
# digits, chosen over none on a dev set of other synthesizers' voices; "" for none),
# SPEC_AUG ("--freq-mask 4 --time-mask 6": the SpecAugment options of the dnn, dnn2 and
# dnn_mmi training, chosen on fillets-cs dev over none; "" for none; dnn_fmllr and
# dnn_fmllr_mmi have none),
# VTLP ("0.9 1.1": VTLN warp factors of extra copies of the training features the DNN also
# trains on, vocal tract length perturbation; "" for none), SP ("": speed factors of
# speed-perturbed copies the DNN also trains on, each aligned by ALI, e.g. "0.9 1.1"),
# AUG ("--reverb 0.5;--noise-snr 10": `asr features` options of more copies the DNN also
# trains on, one copy per ';'-separated entry: a reverberated and a noised copy, chosen on
# fillets-cs dev over none; "" for none),
# STAGES ("mono tri tri2 sat dnn dnn_adabn dnn_mmi dnn_mmi_adabn"; tri2 = LDA+MLLT
# triphones trained on the tri alignments; dnn_int8 is reported with dnn, at dnn's LM weight;
# dnn_adabn = the dnn decoded with --adabn, its BatchNorm statistics per test speaker; dnn2 = dnn
# with --realign; sat = train-sat on the ALI alignments, decoded with --fmllr; sat_dnn = the
# same SAT model with the dnn as first pass, one fMLLR round; dnn_fmllr = a DNN trained on the
# SAT-adapted training features, decoded with the dnn as first pass and one fMLLR round;
# dnn_fmllr_adabn = the same with --adabn: AdaBN in both DNN passes; dnn_mmi, dnn_mmi_adabn,
# dnn_fmllr_mmi = the dnn or dnn_fmllr network fine-tuned with lattice-free MMI, decoded as
# the network it starts from),
# SAT_OPTS (extra `asr train-sat` options, e.g. "--iters 12"), FMLLR_OPTS (extra
# `asr decode --fmllr` options, e.g. "--fmllr-rounds 1"),
# MMI_OPTS (`asr train-dnn --objective mmi` options of the *_mmi stages; "--epochs 2 --lr 1e-4
# --mmi-scale 0.25": the scale chosen on fillets-cs dev over 1 and 0.5),
# ALI (tri: the GMM, tri or tri2, whose alignments and tree the sat and dnn stages use),
# OOV_WORD (a lexicon word that training transcript words missing from the lexicon are
# mapped to, `--oov-word`; default: such words are an error), SL (.venv/bin/speechlang).
# Steps whose output exists in EXP
# (features, models) are skipped, so a rerun with other LM_WEIGHTS only decodes; remove EXP
# to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/asr.sh CORPUS [TEST_DIR ...]" >&2; exit 2; }
CORPUS=$(cd "$1" && pwd); shift
NAME=$(basename "$CORPUS")
EXP=${EXP:-exp/asr/$NAME}
[ -n "${SL:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
SL=${SL:-.venv/bin/speechlang}
ORDER=${ORDER:-3}
MONO_ITERS=${MONO_ITERS:-25}; MONO_GAUSS=${MONO_GAUSS:-1000}
TRI_ITERS=${TRI_ITERS:-16}; TRI_STATES=${TRI_STATES:-500}; TRI_GAUSS=${TRI_GAUSS:-4000}
LM_WEIGHTS=${LM_WEIGHTS:-"4 6 8 10 12 14 16"}
BEAM=${BEAM:-160}
THREADS=${THREADS:-1}
FEAT_OPTS=${FEAT_OPTS:-}
TESTS=("$CORPUS/test" "$@")
mkdir -p "$EXP/data" "$EXP/log"
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
timed() {  # run a command; its wall and CPU time and peak memory go to $EXP/log/NAME.time
  local name=$1; shift
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "%e s wall, %U s user, %M KB" -o "$EXP/log/$name.time" "$@"
  else local t0=$SECONDS; "$@"; echo "$((SECONDS - t0)) s wall (no GNU time here)" > "$EXP/log/$name.time"; fi
}

# 1. dev split (every 10th utterance, or every 10th speaker), absolute audio paths
DEV_SPLIT=${DEV_SPLIT:-utterance}
log "data: train_nodev / dev split of $CORPUS/train (every 10th $DEV_SPLIT)"
$SL asr split "$CORPUS/train" "$EXP/data/train_nodev" "$EXP/data/dev" --every 10 --by "$DEV_SPLIT" --json \
  > "$EXP/log/split.json"

# 2. features
STAGES=${STAGES:-"mono tri tri2 sat dnn dnn_adabn dnn_mmi dnn_mmi_adabn"}
DNN_FEAT_OPTS=${DNN_FEAT_OPTS:-}
DSFX=${DNN_FEAT_OPTS:+_dnn}  # suffix of the DNN's feature dirs (none: the GMMs' features)
[ -n "$DSFX" ] && [[ " $STAGES " == *" sat_dnn "* || " $STAGES " == *" dnn_fmllr"[\ _]* ]] && {
  echo "bench/asr.sh: sat_dnn and dnn_fmllr need the DNN on the GMMs' features; unset DNN_FEAT_OPTS" >&2; exit 2; }
feat() {  # data_dir name [options; default FEAT_OPTS]
  [ -f "$EXP/feats/$2/feats.json" ] && return; log "features $1 ($2)"
  timed "feats_$2" $SL asr features "$1" "$EXP/feats/$2" --threads "$THREADS" ${3-$FEAT_OPTS} --json \
    > "$EXP/log/feats_$2.json"; }
mkdir -p "$EXP/feats"
DNN_FEATS=$([ -n "$DSFX" ] && [[ "$STAGES" == *dnn* ]] && echo 1 || true)
feat "$EXP/data/train_nodev" train_nodev
feat "$EXP/data/dev" dev
[ -n "$DNN_FEATS" ] && { feat "$EXP/data/train_nodev" train_nodev_dnn "$DNN_FEAT_OPTS"; feat "$EXP/data/dev" dev_dnn "$DNN_FEAT_OPTS"; }
TEST_NAMES=()
for t in "${TESTS[@]}"; do
  n=test_$(echo "$t" | sed 's|/*$||; s|.*/\([^/]*/[^/]*\)$|\1|; s|[^A-Za-z0-9_.-]|_|g')
  TEST_NAMES+=("$n")
  feat "$t" "$n"
  [ -n "$DNN_FEATS" ] && feat "$t" "${n}_dnn" "$DNN_FEAT_OPTS"
done

# 3. LMs from the training transcripts (dev utterances left out)
log "LM: speechlang ngram train -o $ORDER"
cut -d' ' -f2- "$EXP/data/train_nodev/text" | $SL ngram train -o "$ORDER" -O "$EXP/lm.arpa" 2> "$EXP/log/lm.log"

# 4. decode a feature dir at LM weights (one `asr decode` for every weight not yet scored) and
# score each: EXP/MODEL/decode_FEATS_lmwW[TAG]/{hyp,decode.json,score.json}
decode_score() {  # model feats_name "lmw ..." [extra decode options, tag]
  local out="$EXP/$1/decode_$2_lmw{lm_weight}${5:-}" fs="" todo=() i recs
  for w in $3; do [ -s "${out/\{lm_weight\}/$w}/score.json" ] || todo+=("$w"); done
  [ ${#todo[@]} -gt 0 ] || return 0
  for w in "${todo[@]}"; do mkdir -p "${out/\{lm_weight\}/$w}"; done
  case $1 in dnn|dnn2|dnn_mmi) fs=$DSFX;; esac  # the DNN's own features
  mapfile -t recs < <($SL asr decode "$EXP/feats/$2$fs" "$EXP/$1" --lm "$EXP/lm.arpa" \
    --lm-weight "$(IFS=,; echo "${todo[*]}")" --beam "$BEAM" --threads "$THREADS" -O "$out/hyp" --json ${4:-})
  [ ${#recs[@]} -eq ${#todo[@]} ] || { echo "bench/asr.sh: decoding $2 with $1 failed" >&2; exit 1; }
  for i in "${!todo[@]}"; do
    local d="${out/\{lm_weight\}/${todo[$i]}}"
    echo "${recs[$i]}" > "$d/decode.json"
    $SL asr score "$EXP/feats/$2/text" "$d/hyp" --json > "$d/score.json"
  done
}

best_weight() {  # model [extra decode options, tag]: the LM weight with the lowest dev WER (ties: the first)
  local best="" bw=""
  decode_score "$1" dev "$LM_WEIGHTS" "${2:-}" "${3:-}"
  for w in $LM_WEIGHTS; do
    wer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wer"])' "$EXP/$1/decode_dev_lmw$w${3:-}/score.json")
    log "$1${3:-} dev lm-weight $w: WER $wer"
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(not $wer < $best)"; then best=$wer; bw=$w; fi
  done
  echo "$bw"
}

# 5. monophones, alignment, triphones
OOV=(); [ -z "${OOV_WORD:-}" ] || OOV=(--oov-word "$OOV_WORD")  # for every command that reads transcripts
[ -f "$EXP/mono/model.json" ] || { log "train-mono"
timed train_mono $SL asr train-mono "$EXP/feats/train_nodev" "$CORPUS/lexicon.txt" "$EXP/mono" ${OOV[@]+"${OOV[@]}"} \
  --iters "$MONO_ITERS" --gaussians "$MONO_GAUSS" --threads "$THREADS" --json > "$EXP/log/mono.json" 2> "$EXP/log/mono.log"; }
[ -f "$EXP/mono_ali/ali.json" ] || { log "align"
timed align $SL asr align "$EXP/feats/train_nodev" "$EXP/mono" "$EXP/mono_ali" ${OOV[@]+"${OOV[@]}"} --threads "$THREADS" \
  --json > "$EXP/log/align.json"; }
[ -f "$EXP/tri/model.json" ] || { log "train-tri"
timed train_tri $SL asr train-tri "$EXP/feats/train_nodev" "$EXP/mono_ali" "$EXP/tri" --states "$TRI_STATES" \
  --gaussians "$TRI_GAUSS" --iters "$TRI_ITERS" ${OOV[@]+"${OOV[@]}"} --threads "$THREADS" --json > "$EXP/log/tri.json" 2> "$EXP/log/tri.log"; }

ALI=${ALI:-tri}
[[ "$ALI" == tri || "$ALI" == tri2 ]] || { echo "bench/asr.sh: ALI=$ALI: use tri or tri2" >&2; exit 2; }
align_gmm() {  # tri | tri2: its alignments of the training features in EXP/<model>_ali
  [ -f "$EXP/$1_ali/ali.json" ] || { log "align with $1"
  timed "align_$1" $SL asr align "$EXP/feats/train_nodev" "$EXP/$1" "$EXP/$1_ali" ${OOV[@]+"${OOV[@]}"} --threads "$THREADS" \
    --json > "$EXP/log/align_$1.json"; }
}

# 6. LDA+MLLT triphones (Kaldi's tri2b): spliced statics projected by LDA, MLLT; tree rebuilt
# on the tri alignments
LDA_DIM=${LDA_DIM:-40}
if [[ " $STAGES " == *" tri2 "* || "$ALI" == tri2 ]]; then
  align_gmm tri
  [ -f "$EXP/tri2/model.json" ] || { log "train-tri --lda-dim $LDA_DIM (tri2)"
  timed train_tri2 $SL asr train-tri "$EXP/feats/train_nodev" "$EXP/tri_ali" "$EXP/tri2" --states "$TRI_STATES" \
    --gaussians "$TRI_GAUSS" --iters "$TRI_ITERS" --lda-dim "$LDA_DIM" ${OOV[@]+"${OOV[@]}"} --threads "$THREADS" --json \
    > "$EXP/log/tri2.json" 2> "$EXP/log/tri2.log"; }
fi

# 6b. speaker-adaptive training on the $ALI alignments (fMLLR per training speaker)
SAT_OPTS=${SAT_OPTS:-}
FMLLR_OPTS=${FMLLR_OPTS:-}
if [[ " $STAGES " == *" sat"[\ _]* || " $STAGES " == *" dnn_fmllr"[\ _]* ]]; then
  align_gmm "$ALI"
  [ -f "$EXP/sat/model.json" ] || { log "train-sat"
  timed train_sat $SL asr train-sat "$EXP/feats/train_nodev" "$EXP/${ALI}_ali" "$EXP/sat" --si-model "$EXP/$ALI" \
    ${OOV[@]+"${OOV[@]}"} --threads "$THREADS" $SAT_OPTS --json > "$EXP/log/sat.json" 2> "$EXP/log/sat.log"; }
fi

# 7. hybrid DNN on the $ALI alignments (its tied states), also trained on VTLN-warped
# copies of the training features (VTLP: same utterances and frames, so the same alignment)
# and on speed-perturbed copies (SP: other frame counts, each aligned by $ALI)
DNN_THREADS=${DNN_THREADS:-1}
DNN_ARCH=${DNN_ARCH:-tdnn}
DNN_CONTEXT=${DNN_CONTEXT:-$([ "$DNN_ARCH" = tdnn ] && echo 8 || echo 5)}
DNN_OPTS=${DNN_OPTS:-}
SPEC_AUG=${SPEC_AUG-"--freq-mask 4 --time-mask 6"}
VTLP=${VTLP-"0.9 1.1"}
AUG=${AUG-"--reverb 0.5;--noise-snr 10"}
SP=${SP:-}
EXTRA=()  # --extra-feats (and, with SP, --extra-ali) options of train-dnn
if [[ "$STAGES" == *dnn* ]]; then
  for w in $VTLP; do
    feat "$EXP/data/train_nodev" "train_nodev${DSFX}_w$w" "--vtln-warp $w ${DNN_FEAT_OPTS:-$FEAT_OPTS}"
    EXTRA+=(--extra-feats "$EXP/feats/train_nodev${DSFX}_w$w")
    if [ -n "$SP" ]; then EXTRA+=(--extra-ali "$EXP/${ALI}_ali"); fi
  done
  IFS=';' read -ra AUGS <<< "$AUG"
  for i in "${!AUGS[@]}"; do  # same frames as the training features: the same alignment
    feat "$EXP/data/train_nodev" "train_nodev${DSFX}_aug$i" "${AUGS[$i]} ${DNN_FEAT_OPTS:-$FEAT_OPTS}"
    EXTRA+=(--extra-feats "$EXP/feats/train_nodev${DSFX}_aug$i")
    if [ -n "$SP" ]; then EXTRA+=(--extra-ali "$EXP/${ALI}_ali"); fi
  done
  for f in $SP; do
    align_gmm "$ALI"
    feat "$EXP/data/train_nodev" "train_nodev_sp$f" "--speed $f $FEAT_OPTS"  # the GMMs', to align
    if [ -n "$DSFX" ]; then feat "$EXP/data/train_nodev" "train_nodev${DSFX}_sp$f" "--speed $f $DNN_FEAT_OPTS"; fi
    [ -f "$EXP/${ALI}_ali_sp$f/ali.json" ] || { log "align speed $f with $ALI"
    timed "align_${ALI}_sp$f" $SL asr align "$EXP/feats/train_nodev_sp$f" "$EXP/$ALI" "$EXP/${ALI}_ali_sp$f" \
      ${OOV[@]+"${OOV[@]}"} --threads "$THREADS" --json > "$EXP/log/align_${ALI}_sp$f.json"; }
    EXTRA+=(--extra-feats "$EXP/feats/train_nodev${DSFX}_sp$f" --extra-ali "$EXP/${ALI}_ali_sp$f")
  done
fi
AUX=()  # AUX_EXP: transfer from its dnn, multitask with its training data
if [ -n "${AUX_EXP:-}" ] && [[ "$STAGES" == *dnn* ]]; then
  for p in dnn/dnn.json feats/train_nodev/feats.json tri_ali/ali.json; do
    [ -f "$AUX_EXP/$p" ] || { echo "bench/asr.sh: AUX_EXP=$AUX_EXP has no $p: run bench/asr.sh on that corpus first" >&2; exit 2; }
  done
  AUX=(--init "$AUX_EXP/dnn" --transfer --aux-feats "$AUX_EXP/feats/train_nodev" --aux-ali "$AUX_EXP/tri_ali")
fi
for d in dnn dnn2; do  # dnn2: the same with --realign (a second pass on DNN alignments)
  [[ " $STAGES " == *" $d "* ]] || { [ $d = dnn ] && [[ " $STAGES " == *" "@(sat_dnn|dnn_fmllr|dnn_fmllr_adabn|dnn_adabn|dnn_mmi|dnn_mmi_adabn|dnn_fmllr_mmi)" "* ]]; } || continue
  align_gmm "$ALI"
  [ -f "$EXP/$d/dnn.json" ] || { log "train-dnn ($d)"
  timed "train_$d" $SL asr train-dnn "$EXP/feats/train_nodev$DSFX" "$EXP/${ALI}_ali" "$EXP/$ALI" "$EXP/$d" \
    --lm "$EXP/lm.arpa" --threads "$DNN_THREADS" --arch "$DNN_ARCH" --context "$DNN_CONTEXT" ${EXTRA[@]+"${EXTRA[@]}"} $SPEC_AUG \
    ${AUX[@]+"${AUX[@]}"} $DNN_OPTS $([ $d = dnn2 ] && echo --realign) ${OOV[@]+"${OOV[@]}"} --json \
    > "$EXP/log/$d.json" 2> "$EXP/log/$d.log"; }
done

if [[ " $STAGES " == *" dnn_fmllr"[\ _]* ]]; then  # on the SAT model's adapted training features
  [ -f "$EXP/dnn_fmllr/dnn.json" ] || { log "train-dnn --fmllr (dnn_fmllr)"
  timed train_dnn_fmllr $SL asr train-dnn "$EXP/feats/train_nodev" "$EXP/${ALI}_ali" "$EXP/sat" "$EXP/dnn_fmllr" \
    --fmllr --lm "$EXP/lm.arpa" --threads "$DNN_THREADS" --arch "$DNN_ARCH" --context "$DNN_CONTEXT" ${EXTRA[@]+"${EXTRA[@]}"} $DNN_OPTS --json \
    > "$EXP/log/dnn_fmllr.json" 2> "$EXP/log/dnn_fmllr.log"; }
fi

# 7b. lattice-free MMI fine-tuning of a trained network on the same data: dnn -> dnn_mmi,
# dnn_fmllr -> dnn_fmllr_mmi
MMI_OPTS=${MMI_OPTS:-"--epochs 2 --lr 1e-4 --mmi-scale 0.25"}
for src in dnn dnn_fmllr; do
  [[ " $STAGES " == *" ${src}_mmi"[\ _]* ]] || continue
  [ -f "$EXP/${src}_mmi/dnn.json" ] || { log "train-dnn --objective mmi (${src}_mmi)"
  if [ $src = dnn ]; then io=("$EXP/feats/train_nodev$DSFX" "$EXP/${ALI}_ali" "$EXP/$ALI")
  else io=("$EXP/feats/train_nodev" "$EXP/${ALI}_ali" "$EXP/sat" --fmllr); fi
  [ $src = dnn ] && io+=($SPEC_AUG)  # the dnn network's masks (no mel domain after fMLLR)
  timed "train_${src}_mmi" $SL asr train-dnn "${io[@]}" "$EXP/${src}_mmi" --init "$EXP/$src" --objective mmi \
    --lm "$EXP/lm.arpa" --threads "$DNN_THREADS" ${EXTRA[@]+"${EXTRA[@]}"} $MMI_OPTS --json \
    > "$EXP/log/${src}_mmi.json" 2> "$EXP/log/${src}_mmi.log"; }
done

# 8. tune on dev, decode the test sets
RESULTS=()
for stage in $STAGES $([[ " $STAGES " == *" dnn "* ]] && echo dnn_int8); do
  model=${stage%_int8}; model=${model%_dnn}; extra=""; tag=""
  [ "$stage" = dnn_int8 ] && { extra="--quantize"; tag="_int8"; }
  [ "$stage" = sat ] && { extra="--fmllr $FMLLR_OPTS"; tag="_fmllr"; }
  [ "$stage" = sat_dnn ] && { extra="--fmllr --si-model $EXP/dnn --fmllr-rounds 1 $FMLLR_OPTS"; tag="_fmllr_dnn"; }
  [[ "$stage" == dnn_fmllr || "$stage" == dnn_fmllr_mmi ]] && { extra="--fmllr --si-model $EXP/dnn --fmllr-rounds 1 $FMLLR_OPTS"; tag="_fmllr"; }
  [ "$stage" = dnn_fmllr_adabn ] && { model=dnn_fmllr; tag="_fmllr_adabn"
    extra="--fmllr --si-model $EXP/dnn --fmllr-rounds 1 --adabn $FMLLR_OPTS"; }
  if [[ "$stage" == *_adabn && "$DNN_ARCH" != tdnn ]]; then
    log "$stage skipped: --adabn needs BatchNorm (DNN_ARCH=tdnn)"; continue
  fi
  [[ "$stage" == dnn_adabn || "$stage" == dnn_mmi_adabn ]] && { model=${stage%_adabn}; extra="--adabn"; tag="_adabn"; }
  if [ "$stage" = dnn_int8 ]; then w=$dnn_w; else w=$(best_weight "$model" "$extra" "$tag"); fi
  [ "$stage" = dnn ] && dnn_w=$w
  log "$stage: lm-weight $w (chosen on dev)"
  for i in "${!TESTS[@]}"; do
    decode_score "$model" "${TEST_NAMES[$i]}" "$w" "$extra" "$tag"
    dec="$EXP/$model/decode_${TEST_NAMES[$i]}_lmw$w$tag"
    RESULTS+=("$(python3 -c 'import json,sys
s, d = json.load(open(sys.argv[1] + "/score.json")), json.load(open(sys.argv[1] + "/decode.json"))
print(json.dumps({"stage": sys.argv[2], "test": sys.argv[3], "wer": s["wer"], "n_words": s["n_words"],
                  "sub": s["sub"], "del": s["del"], "ins": s["ins"], "lm_weight": float(sys.argv[4]),
                  "rtf": d["rtf"]}))' "$dec" "$stage" "${TESTS[$i]}" "$w")")
  done
done
printf '%s\n' "${RESULTS[@]}"

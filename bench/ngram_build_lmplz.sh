#!/usr/bin/env bash
# Build KenLM's lmplz for the side-by-side benchmark (bench only, not part of the install).
# Source: the PyPI `kenlm` sdist (it carries the full KenLM tree); Boost from Debian.
#   bash bench/ngram_build_lmplz.sh      ->  bench/build/kenlm/build/bin/lmplz
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=bench/build
mkdir -p "$BUILD"
if [ -x "$BUILD/kenlm/build/bin/lmplz" ]; then
  echo "lmplz already built: $BUILD/kenlm/build/bin/lmplz"; exit 0
fi
if ! dpkg -s libboost-program-options-dev libboost-system-dev libboost-thread-dev \
      libboost-test-dev zlib1g-dev cmake >/dev/null 2>&1; then
  apt-get install -y libboost-program-options-dev libboost-system-dev libboost-thread-dev \
    libboost-test-dev zlib1g-dev cmake
fi
PY=python3
[ -x .venv-bench/bin/python ] && PY=.venv-bench/bin/python
"$PY" -m pip download kenlm --no-binary kenlm --no-deps -d "$BUILD/sdist"
rm -rf "$BUILD/kenlm"
mkdir -p "$BUILD/kenlm"
tar -xzf "$BUILD"/sdist/kenlm-*.tar.gz -C "$BUILD/kenlm" --strip-components=1
cd "$BUILD/kenlm"
mkdir -p build && cd build
cmake .. -DCMAKE_BUILD_TYPE=Release > cmake.log
make -j2 lmplz
ls -l bin/lmplz

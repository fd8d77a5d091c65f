# Sourced by the bench scripts: on a bare checkout, builds the project's venv first (`make
# install`: .venv with speechlang and its dependencies), so `bash bench/NAME.sh DATA` runs from
# a fresh clone. Nothing is done when .venv/bin/speechlang exists.
( cd "$(dirname "${BASH_SOURCE[0]}")/.." && { [ -x .venv/bin/speechlang ] || {
  echo "== no .venv/bin/speechlang: make install" >&2; make --no-print-directory install >&2; }; } )

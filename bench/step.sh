# Sourced by bench scripts that resume: `step NAME CMD...` runs CMD unless OUT/NAME.json exists,
# writing its stdout atomically to OUT/NAME.json and its wall time to OUT/NAME.minutes.
step() {
  local name=$1; shift
  [ -f "$OUT/$name.json" ] && return 0
  echo "== $name: $*" >&2
  local t0; t0=$(date +%s.%N)
  "$@" > "$OUT/$name.json.tmp"
  mv "$OUT/$name.json.tmp" "$OUT/$name.json"
  echo "($(date +%s.%N) - $t0) / 60" | bc -l > "$OUT/$name.minutes"
}

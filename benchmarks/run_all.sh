#!/usr/bin/env bash
# Run every `edgevision bench` on one CPU core and keep each JSON result in benchmarks/results/.
# Usage: bash benchmarks/run_all.sh [EYE_DATA]   (EYE_DATA: a 3ET+-layout root; default: a small set generated here)
# Each benchmark times its baseline in the same process (tonic, spconv, dense PyTorch, ...) and reports medians
# and ratios; nothing here is a pass/fail check.
set -euo pipefail
cd "$(dirname "$0")/.."
E=".venv/bin/edgevision"
OUT=benchmarks/results
mkdir -p "$OUT"
DATA=${1:-build/bench-eye-data}
if [ -z "${1:-}" ] && [ ! -f "$DATA/manifest.json" ]; then
  "$E" data synth-eye --out "$DATA" --recordings 6 --seconds 4 --seed 0 --json > "$OUT/data.json"
fi
one() { OMP_NUM_THREADS=1 taskset -c 0 "$E" bench "$@" --json; }
one events > "$OUT/events.json"
one sim > "$OUT/sim.json"
one eye --data "$DATA" > "$OUT/eye.json"
one sparse --eye-data "$DATA" > "$OUT/sparse.json"
one loop --model models/eye_small_int8 > "$OUT/loop.json"
"$E" estimate --model models/eye_small_int8 --board zcu102 --data "$DATA" --json > "$OUT/estimate_zcu102.json"
echo "results in $OUT/"

#!/usr/bin/env bash
# The shipped eye tracker's training job, whole, on one GPU machine (16 cores): generate the eye-v3 training
# set with every core, train each candidate config side by side on the GPU within a time budget, and score
# each on the own test subjects and on a held-out-family *validation* set (eyeball renderer, seed 99; the
# family set that `bench eye-shift` reports uses seed 11 and is never seen here).
# Usage: OUT=DIR [CONFIGS="models/eye_small.yaml ..."] bash tools/train_eye_gpu.sh RECORDINGS SECONDS EPOCHS BUDGET_S
# (models/README.md gives the exact call of the shipped checkpoint). Results land in $OUT/<config name>/.
set -euo pipefail
OUT=${OUT:?set OUT to a folder for the results}
CONFIGS=${CONFIGS:-models/eye_small.yaml}
REC=${1:-128}; SEC=${2:-5}; EPOCHS=${3:-40}; BUDGET=${4:-400}
E="python3 -m edgevision"
DATA=/tmp/eye-v3; FVAL=/tmp/family-val
mkdir -p "$OUT"
start=$(date +%s)
$E data synth-eye --out $DATA --recordings "$REC" --seconds "$SEC" --seed 0 --per-subject 1 --jobs "$(nproc)" \
  --compression none --json > "$OUT/data.json" 2> "$OUT/data.log"
cp $DATA/manifest.json "$OUT/manifest.json"
echo "data: $(( $(date +%s) - start )) s"
$E data synth-eye --renderer eyeball --out $FVAL --recordings 8 --seconds 3 --seed 99 --jobs "$(nproc)" \
  --compression none --json > "$OUT/family_val_data.json" 2> "$OUT/family_val_data.log" &
pids=()
for cfg in $CONFIGS; do
  name=$(basename "$cfg" .yaml); run=/tmp/run-$name; mkdir -p "$OUT/$name"; rm -rf "$run"
  ( status=0
    timeout "$BUDGET" $E train eye --config "$cfg" --data $DATA --out "$run" --device cuda --epochs "$EPOCHS" \
      --json > "$OUT/$name/train.json" 2> "$OUT/$name/train.log" || status=$?
    echo "$name train: exit $status, $(( $(date +%s) - start )) s"
    cp "$run"/log.csv "$run"/best.safetensors "$run"/best.json "$run"/curves.png "$OUT/$name/" 2>/dev/null || true
  ) & pids+=($!)
done
wait "${pids[@]}"; wait
echo "trained: $(( $(date +%s) - start )) s"
for cfg in $CONFIGS; do
  name=$(basename "$cfg" .yaml); ck="$OUT/$name/best.safetensors"
  [ -f "$ck" ] || continue
  $E eval eye --checkpoint "$ck" --data $DATA --split test --device cuda --json > "$OUT/$name/eval_test.json" \
    2> "$OUT/$name/eval.log" || true
  $E eval eye --checkpoint "$ck" --data $FVAL --split test --device cuda --json > "$OUT/$name/eval_family_val.json" \
    2>> "$OUT/$name/eval.log" || true
  tail -n 1 "$OUT/$name/log.csv"
  python3 -c "import json,sys
for f in sys.argv[1:]:
    d=json.load(open(f)); print(f, {k: round(d[k], 3) for k in ('p1','p3','p5','p10','mean_distance')})" \
    "$OUT/$name/eval_test.json" "$OUT/$name/eval_family_val.json" || true
done
echo "total: $(( $(date +%s) - start )) s"

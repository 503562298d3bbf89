#!/usr/bin/env bash
# The shipped eye tracker's training job, whole, on one GPU machine (16 cores): generate the eye-v3 training
# set with every core, train on the GPU within a time budget, evaluate on the held-out test subjects.
# Usage: OUT=DIR bash tools/train_eye_gpu.sh RECORDINGS SECONDS EPOCHS BUDGET_S
# (models/README.md gives the exact call of the shipped checkpoint). Results land in $OUT.
set -euo pipefail
OUT=${OUT:?set OUT to a folder for the results}
REC=${1:-128}; SEC=${2:-5}; EPOCHS=${3:-40}; BUDGET=${4:-400}
E="python3 -m edgevision"
DATA=/tmp/eye-v3; RUN=/tmp/eye-run
mkdir -p "$OUT"
start=$(date +%s)
$E data synth-eye --out $DATA --recordings "$REC" --seconds "$SEC" --seed 0 --per-subject 1 --jobs "$(nproc)" \
  --compression none --json > "$OUT/data.json" 2> "$OUT/data.log"
echo "data: $(( $(date +%s) - start )) s"
cp $DATA/manifest.json "$OUT/manifest.json"
rm -rf $RUN
status=0
timeout "$BUDGET" $E train eye --config models/eye_small.yaml --data $DATA --out $RUN --device cuda \
  --epochs "$EPOCHS" --json > "$OUT/train.json" 2> "$OUT/train.log" || status=$?
echo "train: exit $status, $(( $(date +%s) - start )) s"
cp $RUN/log.csv $RUN/best.safetensors $RUN/best.json "$OUT/" 2>/dev/null || true
cp $RUN/curves.png "$OUT/" 2>/dev/null || true
tail -n 3 "$OUT/log.csv" || true
$E eval eye --checkpoint $RUN/best.safetensors --data $DATA --split test --device cuda --json > "$OUT/eval_test.json" \
  2> "$OUT/eval.log" && cat "$OUT/eval_test.json" | head -c 600
echo; echo "total: $(( $(date +%s) - start )) s"

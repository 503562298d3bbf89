#!/usr/bin/env bash
# 5-fold cross-validation of the four recognition families on the 1,000 N-MNIST recordings, on one GPU machine
# (one H200, 16 cores) within ~7 minutes wall in total: esda, spikepoint and pointnet train on the GPU, all folds and
# families side by side (15 processes, one thread each), random-features (closed form) on the CPU beside them.
# Every process runs under a hard `timeout`, so a slow one cannot overrun: a killed run keeps its last finished
# epoch (every epoch is written atomically) and still counts in the table, with fewer epochs. Then
# `bench classify-cv` writes cv.json and the table (into a copy of docs/recognition.md) and everything small
# (json, csv, png, logs; the model files of fold 0 only) is packed into ONE tar.gz in $OUT.
#
# Usage:  OUT=DIR bash tools/train_nmnist_gpu.sh DATA_ROOT        (DATA_ROOT holds NMNIST/Train, e.g. build/nmnist-1k)
# Knobs (environment):
#   PYTHON=python3           interpreter holding torch (the GPU image's python3)
#   DEVICE=cuda              device of the three gradient-trained families (cpu for a dry run)
#   RUNS=/tmp/nmnist-cv-gpu  work folder of the run folders (<family>_f<K>); it must not hold runs yet
#   BUDGET_S=330             hard timeout of each training process, seconds
#   TINY=1                   dry run: 2 folds, 1 epoch, 48 training windows per epoch (proves the pipeline)
#   FOLDS_RUN=5              how many of the 5 folds to train (0..FOLDS_RUN-1)
#   EPOCHS_SCALE=1.0         multiply every family's epochs (at least 1)
#   WHEELS=build/gpu-wheels  wheels installed (into /tmp/edgevision-site) when tonic or snntorch does not import
# Packages: the GPU image lacks tonic, snntorch and importRosbag (pure Python). Fetch them once on a machine with
# pip access and carry the folder:
#   python -m pip download --no-deps --only-binary=:all: -d build/gpu-wheels tonic==1.7.0 snntorch==1.0.0 importRosbag==1.0.4
# On the GPU machine (data and wheels carried as build/nmnist-1k and build/gpu-wheels):
#   OUT=$OUT bash tools/train_nmnist_gpu.sh build/nmnist-1k
# Dry run on a CPU machine: TINY=1 DEVICE=cpu PYTHON=.venv/bin/python OUT=/tmp/o RUNS=/tmp/r BUDGET_S=900 bash tools/train_nmnist_gpu.sh ../shared/data/nmnist-1k
set -uo pipefail
DATA_ROOT=${1:?usage: OUT=DIR bash tools/train_nmnist_gpu.sh DATA_ROOT}
OUT=${OUT:-build/nmnist-gpu-out}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
RUNS=${RUNS:-/tmp/nmnist-cv-gpu}
BUDGET=${BUDGET_S:-330}
TINY=${TINY:-0}
FOLDS_RUN=${FOLDS_RUN:-5}
SCALE=${EPOCHS_SCALE:-1.0}
WHEELS=${WHEELS:-build/gpu-wheels}
DATA="nmnist:$DATA_ROOT"
start=$(date +%s)
say() { echo "[$(( $(date +%s) - start ))s] $*"; }

[ -d "$DATA_ROOT/NMNIST" ] || { echo "$DATA_ROOT: no NMNIST folder (pass the folder holding NMNIST/Train)" >&2; exit 2; }
if ! $PY -c "import tonic, snntorch" 2>/dev/null; then
  ls "$WHEELS"/*.whl > /dev/null 2>&1 || { echo "tonic/snntorch do not import and $WHEELS holds no wheels (see the header)" >&2; exit 2; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/edgevision-site \
    "$WHEELS"/*.whl || exit 2
  export PYTHONPATH=/tmp/edgevision-site${PYTHONPATH:+:$PYTHONPATH}
  $PY -c "import tonic, snntorch" || exit 2
  say "installed $(ls "$WHEELS" | tr '\n' ' ')"
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TQDM_DISABLE=1 PYTHONUNBUFFERED=1
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
if [ -e "$RUNS" ] && [ -n "$(ls -A "$RUNS" 2>/dev/null)" ]; then echo "$RUNS already holds runs; set RUNS to a new folder" >&2; exit 2; fi
mkdir -p "$RUNS" "$OUT"

# Settings per family. Epochs come from costs measured on this project's loaded 2-core CPU machine, one thread,
# fold 0: esda ~15 ms per training window of 100 ms (2,400 per epoch), pointnet ~10 s per epoch of 800 windows of
# 400 ms, spikepoint ~37 ms per window (a smaller config); data loading ~1 ms per window of that. On the GPU these
# small models are launch-bound: ~2,200 torch ops per training step for esda and pointnet, ~9,800 for spikepoint
# (T = 8 steps), counted with torch.profiler, almost independent of the batch size. 15 processes time-share the
# one GPU (no MPS), so the GPU's kernel rate (~150-300 k/s) bounds the whole job: batches of 32 (half the steps of
# 16) keep the estimated total near 45 M ops, ~150-300 s, inside BUDGET_S; EPOCHS_SCALE trims it further.
ESDA_CFG=$($PY -c "import json; print(json.dumps(json.load(open('models/nmnist_esda/run.json'))['model_config']))")
SP_CFG='{"widths": [32, 64, 128, 256], "global_units": 1, "num_points": 512, "num_groups": 128, "neighbours": 16, "timesteps": 8, "global_pool": "mean", "encoding": "direct"}'
PN_CFG='{"time_scale": 0.1}'
RF_CFG='{"num_points": 512, "num_groups": 128, "neighbours": 16, "features": 128, "grid": 4, "ridge": 0.1}'
COMMON=(--data "$DATA" --folds 5 --threads 1 --shift-px 2 --json)
declare -A EPOCHS=([esda]=24 [pointnet]=40 [spikepoint]=24)
declare -A ARGS=(
  [esda]="--lr 3e-3 --batch-size 32 --window-us 100000 --step-us 100000 --drop-events 0.2"
  [pointnet]="--lr 3e-3 --batch-size 32 --window-us 400000 --step-us 400000 --drop-events 0.1"
  [spikepoint]="--lr 4e-3 --batch-size 32 --window-us 400000 --step-us 400000 --drop-events 0.1"
)
declare -A MCFG=([esda]="$ESDA_CFG" [pointnet]="$PN_CFG" [spikepoint]="$SP_CFG")
EXTRA=(); RF_PASSES=2
if [ "$TINY" = 1 ]; then
  FOLDS_RUN=$(( FOLDS_RUN < 2 ? FOLDS_RUN : 2 )); EXTRA=(--max-train-windows 48); RF_PASSES=0
  EPOCHS=([esda]=1 [pointnet]=1 [spikepoint]=1)
fi

pids=()
for fam in esda pointnet spikepoint; do
  ep=$($PY -c "print(max(1, round(${EPOCHS[$fam]} * $SCALE)))")
  for ((k = 0; k < FOLDS_RUN; k++)); do
    run="$RUNS/${fam}_f$k"
    # shellcheck disable=SC2086
    timeout -k 15 "$BUDGET" $PY -m edgevision -q train classify --arch "$fam" --out "$run" --fold "$k" --epochs "$ep" \
      --device "$DEVICE" --model-config "${MCFG[$fam]}" ${ARGS[$fam]} "${COMMON[@]}" "${EXTRA[@]}" \
      > "$RUNS/${fam}_f$k.json" 2> "$RUNS/${fam}_f$k.log" &
    pids+=($!)
  done
  say "started $fam: $FOLDS_RUN folds x $ep epochs on $DEVICE"
done
for ((k = 0; k < FOLDS_RUN; k++)); do
  nice -n 5 timeout -k 15 "$BUDGET" $PY -m edgevision -q train classify --arch random-features --out "$RUNS/random-features_f$k" \
    --fold "$k" --device cpu --model-config "$RF_CFG" --window-us 400000 --step-us 400000 --drop-events 0.2 \
    --augment-passes "$RF_PASSES" --batch-size 32 "${COMMON[@]}" \
    > "$RUNS/random-features_f$k.json" 2> "$RUNS/random-features_f$k.log" &
  pids+=($!)
done
say "started random-features: $FOLDS_RUN folds on cpu"

progress() {  # one line per family: finished epochs of each fold and the mean held-out recording accuracy so far
  for fam in esda pointnet spikepoint random-features; do
    $PY - "$RUNS" "$fam" <<'EOF'
import csv, sys
from pathlib import Path
runs, fam = Path(sys.argv[1]), sys.argv[2]
cells, accs = [], []
for d in sorted(runs.glob(f"{fam}_f*")):
    if not d.is_dir():
        continue
    rows = list(csv.DictReader(open(d / "log.csv"))) if (d / "log.csv").is_file() else []
    cells.append(f"{d.name[len(fam) + 1:]}:{len(rows)}")
    if rows:
        accs.append(float(rows[-1]["test_recording_acc"]))
mean = f"{100 * sum(accs) / len(accs):.1f} %" if accs else "-"
print(f"  {fam}: epochs {' '.join(cells) or '-'}; recording acc (last epoch, mean of {len(accs)}) {mean}")
EOF
  done
}
( while sleep 30; do say "progress"; progress; done ) &
mon=$!
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null
say "training done ($fail process(es) failed or timed out; their last finished epoch still counts)"
progress
for f in "$RUNS"/*.log; do
  if grep -q -E "Error|Traceback" "$f"; then echo "--- $f"; tail -n 5 "$f"; fi
done

cp docs/recognition.md "$RUNS/recognition.md"
$PY -m edgevision bench classify-cv --runs "$RUNS" --doc "$RUNS/recognition.md" --out "$RUNS/cv.json" --json \
  > "$RUNS/bench_classify_cv.json" 2> "$RUNS/bench_classify_cv.log" || { echo "bench classify-cv failed:"; tail -n 20 "$RUNS/bench_classify_cv.log"; }
$PY - "$RUNS/recognition.md" <<'EOF' || true
import sys
text = open(sys.argv[1]).read()
a, b = "<!-- bench:classify-cv:begin -->", "<!-- bench:classify-cv:end -->"
print(text.split(a, 1)[1].split(b, 1)[0].strip() if a in text else "(no table)")
EOF
say "bench classify-cv done"

# One archive of the small files: every fold's json/csv/png/logs, fold 0's model files too (bench classify-cv
# needs them); no optimizer state, no other fold's weights.
tarball="$OUT/nmnist_cv_gpu.tar.gz"
( cd "$RUNS" && find . -type f \( -name '*.json' -o -name '*.csv' -o -name '*.png' -o -name '*.log' -o -name '*.md' \
    -o -path './*_f0/model.safetensors' \) ! -name 'optimizer.json' | sort > /tmp/nmnist_cv_files.txt
  tar -czf - -T /tmp/nmnist_cv_files.txt ) > "$tarball"
say "packed $(wc -l < /tmp/nmnist_cv_files.txt) files into $tarball ($(du -h "$tarball" | cut -f1))"
say "total"

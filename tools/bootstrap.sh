#!/usr/bin/env bash
# Create (or reuse) .venv with torch's CPU wheel first, then edgevision with every extra this machine uses
# (train, recognition, fpga, rtl, dev; not camera: GUI OpenCV and dv-processing are for machines with a camera and a screen).
# Idempotent: a second run only re-installs when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.edgevision-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  # The CPU wheel first: any later requirement that 2.13.0 satisfies installs nothing more.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[train,recognition,fpga,rtl,dev]"
  echo "$want" > "$stamp"
fi

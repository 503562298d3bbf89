#!/usr/bin/env bash
# Create (or reuse) .venv with torch's CPU wheel first, then edgevision with every extra this machine uses
# (train, recognition, fpga, rtl, dev; not camera: GUI OpenCV and dv-processing are for machines with a camera and a screen).
# Then Debian's chromium for the live view's browser test, when missing (root with apt-get only; never fatal).
# Idempotent: a second run only re-installs when pyproject.toml changed (and checks `command -v chromium`).
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
# Headless Chromium for the live view's browser test (tests/runtime/test_live_view_browser.py): Debian's package,
# installed only when missing and we are root with apt-get; never fails the bootstrap (the test then skips).
if ! command -v chromium >/dev/null 2>&1; then
  why=""
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    why="not root with apt-get"
  else
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp 2>/dev/null || echo /dev/null)
    if ! apt-get install -y -qq --no-install-recommends chromium >"$apt_log" 2>&1; then
      # Package lists missing or stale (a fresh image): refresh them once and retry; any other failure stands.
      if grep -qE 'Unable to locate package|has no installation candidate|Failed to fetch' "$apt_log" \
          && apt-get update -qq >>"$apt_log" 2>&1 \
          && apt-get install -y -qq --no-install-recommends chromium >>"$apt_log" 2>&1; then :; else
        err=$(grep -E '^(E|W):' "$apt_log" | tail -n 1 || true)
        why="apt-get install chromium failed${err:+: $err}"
      fi
    fi
    [ "$apt_log" = /dev/null ] || rm -f "$apt_log"
    command -v chromium >/dev/null 2>&1 || why=${why:-"apt-get installed no chromium command"}
  fi
  if [ -n "$why" ]; then
    echo "bootstrap: no Chromium ($why); the live view's browser test will be skipped" >&2
  fi
fi

"""Check an IR on the compiled engine against the NumPy integer reference (bit-exactness and speed)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.engine.cpu import compile_ir
from edgevision.ir.random import random_windows
from edgevision.ir.schema import load_ir
from edgevision.quant.reference import run_network


def check_ir(ir_dir: str | Path, windows: int = 20, density: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Run ``windows`` random windows at ``density`` through both; report mismatches and median ms per window."""
    net = load_ir(ir_dir)
    engine = compile_ir(net).warmup()
    mismatched, t_eng, t_ref = 0, [], []
    for coords, feats in random_windows(net, windows, density, seed):
        t0 = time.perf_counter()
        out = engine.run(coords, feats)
        t1 = time.perf_counter()
        ref = run_network(net, coords, feats)
        t2 = time.perf_counter()
        t_eng.append(t1 - t0)
        t_ref.append(t2 - t1)
        mismatched += int(not np.array_equal(out, ref))
    return {
        "ir": str(ir_dir),
        "windows": windows,
        "density": density,
        "bit_exact": mismatched == 0,
        "mismatched_windows": mismatched,
        "engine_ms": float(np.median(t_eng) * 1e3),
        "reference_ms": float(np.median(t_ref) * 1e3),
    }

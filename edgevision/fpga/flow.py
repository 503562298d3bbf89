"""Stage functions behind the CLI: plan (graph + parallelism search), export, C simulation, estimate."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.fpga.boards import get_board
from edgevision.fpga.hwgraph import HwGraph, build_graph
from edgevision.fpga.model import Estimate, estimate_counts, latency_cycles, mean_counts, measure_counts
from edgevision.fpga.search import search_parallelism
from edgevision.fpga.windows import Window
from edgevision.ir.schema import Network

DEFAULT_DENSITY = 0.05
DEFAULT_FRACTION = 0.8


def _progress(items: list, desc: str):
    """tqdm on stderr for long window lists."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="window", leave=False, disable=len(items) < 200)


def random_windows(net: Network, n: int, density: float, seed: int = 0) -> list[Window]:
    """``n`` windows of uniformly random sites at ``density`` (test material when no dataset is given)."""
    from edgevision.ir.random import random_tokens

    rng = np.random.default_rng(seed)
    return [random_tokens(rng, net.input.height, net.input.width, net.input.channels, density) for _ in range(n)]


def plan(net: Network, board: str, windows: list[Window] | None = None, density: float = DEFAULT_DENSITY,
         fraction: float = DEFAULT_FRACTION) -> tuple[HwGraph, Estimate]:
    """The module graph of ``net`` with parallelism searched for ``board`` on the windows' mean token counts
    (or on uniformly random sites at ``density`` without windows)."""
    graph = build_graph(net)
    if windows:
        counts = mean_counts([measure_counts(graph, c) for c, _ in _progress(windows, "token counts")])
    else:
        counts = estimate_counts(graph, density)
    return graph, search_parallelism(graph, counts, get_board(board), fraction)


def estimate_report(graph: HwGraph, est: Estimate, windows: list[Window] | None, density: float) -> dict[str, Any]:
    b = est.board
    lat_ms = est.latency_ms
    per_window = None
    if windows:
        from edgevision.fpga.model import module_cycles

        lats = [latency_cycles(graph, {m.name: module_cycles(m, cnt[m.name]) for m in graph.modules})
                for cnt in (measure_counts(graph, c) for c, _ in windows)]
        per_window = {"median_ms": float(np.median(lats)) / (b.clock_mhz * 1e3),
                      "p95_ms": float(np.percentile(lats, 95)) / (b.clock_mhz * 1e3),
                      "max_ms": float(np.max(lats)) / (b.clock_mhz * 1e3)}
    bott = max((m for m in graph.modules if m.kind not in ("fc", "output")), key=lambda m: est.cycles[m.name])
    return {
        "board": b.name, "part": b.part, "clock_mhz": b.clock_mhz,
        "token_counts": f"mean of {len(windows)} windows" if windows else f"uniform random sites, density {density}",
        "latency_ms": lat_ms, "latency_cycles": est.latency_cycles,
        "latency_per_window": per_window,
        "throughput_windows_s": 1e3 / lat_ms if lat_ms > 0 else float("inf"),
        "bottleneck": bott.name,
        "resources": est.resources.as_dict(),
        "budget": {"dsp": b.dsp, "bram18k": b.bram18k, "lut": b.lut},
        "energy_mj": b.power_w * lat_ms,
        "energy_assumptions": f"board power {b.power_w} W x latency ({b.power_source})",
        "modules": [{"name": m.name, "kind": m.kind, "pi": m.pi, "po": m.po, "cycles": est.cycles[m.name],
                     **est.per_module[m.name].as_dict()} for m in graph.modules],
    }


def export_project(net: Network, board: str, out: str | Path, windows: list[Window] | None = None,
                   density: float = DEFAULT_DENSITY, fraction: float = DEFAULT_FRACTION, golden: int = 8) -> dict[str, Any]:
    """Plan and write the HLS project; the testbench gets ``golden`` windows (from ``windows`` or random)."""
    from edgevision.fpga.codegen import write_project

    graph, est = plan(net, board, windows, density, fraction)
    tb = (windows or [])[:golden] or random_windows(net, golden, density)
    write_project(graph, out, board, golden=tb)
    return {"out": str(out), "board": board, "top": "edgevision_top", "modules": len(graph.modules),
            "parallelism": graph.parallelism(), "latency_ms": est.latency_ms, "resources": est.resources.as_dict(),
            "testbench_windows": len(tb)}


def run_csim(net: Network, windows: list[Window], board: str = "zcu102", project: str | Path | None = None,
             fraction: float = DEFAULT_FRACTION) -> dict[str, Any]:
    """C-simulate ``windows`` in one batch, compare with the NumPy reference, report cycles."""
    from edgevision.fpga.csim import compile_design
    from edgevision.quant.reference import run_network

    graph, est = plan(net, board, windows, fraction=fraction)
    with tempfile.TemporaryDirectory(prefix="edgevision_hls_") as tmp:
        t0 = time.perf_counter()
        design = compile_design(graph, project or tmp, board)
        t1 = time.perf_counter()
        res = design.run(windows)
        t2 = time.perf_counter()
    pairs = _progress(list(zip(res.outputs, windows)), "reference")
    matched = sum(int(np.array_equal(o, run_network(net, c, f))) for o, (c, f) in pairs)
    names = [m.name for m in graph.modules]
    lat = [latency_cycles(graph, dict(zip(names, row.astype(float)))) for row in res.cycles]
    b = get_board(board)
    return {
        "windows": len(windows), "matched": matched,
        "module_cycles": {n: float(np.median(res.cycles[:, i])) for i, n in enumerate(names)},
        "total_cycles": float(np.median(lat)),
        "latency_ms": float(np.median(lat)) / (b.clock_mhz * 1e3), "board": b.name,
        "parallelism": graph.parallelism(),
        "compile_s": t1 - t0, "csim_s": t2 - t1,
    }

"""Stage functions behind the CLI: plan (graph + parallelism search), export, C simulation, estimate."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edgevision.fpga.boards import get_board
from edgevision.fpga.codegen import write_project
from edgevision.fpga.csim import compile_design
from edgevision.fpga.hwgraph import HwGraph, build_graph
from edgevision.fpga.model import (Estimate, estimate_counts, interval_cycles, latency_cycles, mean_counts,
                                   measure_counts, module_cycles, sequential_cycles, tail_cycles)
from edgevision.fpga.search import search_parallelism
from edgevision.fpga.windows import Window
from edgevision.ir.random import random_windows
from edgevision.ir.schema import Network
from edgevision.quant.reference import run_network

DEFAULT_DENSITY = 0.05
DEFAULT_FRACTION = 0.8


def _progress(items: list, desc: str):
    """tqdm on stderr for long window lists."""
    return tqdm(items, desc=desc, unit="window", leave=False, disable=len(items) < 200)


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


LATENCY_NOTE = ("latency_ms: all modules one after another (no overlap; the C-simulation accounting; not a "
                "proven bound: pipelined iterations only) and the figure energy uses; latency_dataflow_ms: modelled overlap (bottleneck + fill + "
                "tail); interval_ms: the bottleneck module alone (rate of a fully overlapped pipeline). None includes "
                "host/DMA transfer or per-loop pipeline prologues (docs/fpga.md)")


def _latencies(graph: HwGraph, cycles: dict[str, float]) -> tuple[float, float, float]:
    """(sequential, dataflow, interval) cycles of one window."""
    return sequential_cycles(cycles), latency_cycles(graph, cycles), interval_cycles(graph, cycles)


def estimate_report(graph: HwGraph, est: Estimate, windows: list[Window] | None, density: float) -> dict[str, Any]:
    """The JSON of ``edgevision estimate``: latencies (conservative first), resources vs budget, energy."""
    b = est.board
    seq, flow, interval = _latencies(graph, est.cycles)
    per_window = None
    if windows:
        lats = np.array([_latencies(graph, {m.name: module_cycles(m, cnt[m.name]) for m in graph.modules})
                         for cnt in (measure_counts(graph, c) for c, _ in windows)])
        per_window = {"median_ms": est.ms(float(np.median(lats[:, 0]))), "p95_ms": est.ms(float(np.percentile(lats[:, 0], 95))),
                      "max_ms": est.ms(float(np.max(lats[:, 0]))),
                      "dataflow_median_ms": est.ms(float(np.median(lats[:, 1]))),
                      "dataflow_p95_ms": est.ms(float(np.percentile(lats[:, 1], 95)))}
    stream = [m for m in graph.modules if m.kind not in ("fc", "output")]
    bott = max(stream, key=lambda m: est.cycles[m.name] - tail_cycles(m))
    lat_ms = est.ms(seq)
    return {
        "board": b.name, "part": b.part, "clock_mhz": b.clock_mhz,
        "token_counts": f"mean of {len(windows)} windows" if windows else f"uniform random sites, density {density}",
        "latency_ms": lat_ms, "latency_cycles": seq,
        "latency_dataflow_ms": est.ms(flow), "interval_ms": est.ms(interval),
        "latency_note": LATENCY_NOTE,
        "latency_per_window": per_window,
        "throughput_windows_s": 1e3 / lat_ms if lat_ms > 0 else float("inf"),
        "bottleneck": bott.name,
        "resources": est.resources.as_dict(),
        "budget": {"dsp": b.dsp, "bram18k": b.bram18k, "lut": b.lut},
        "energy_mj": b.power_w * lat_ms,
        "energy_dataflow_mj": b.power_w * est.ms(flow),
        "energy_assumptions": f"board power {b.power_w} W x latency ({b.power_source})",
        "modules": [{"name": m.name, "kind": m.kind, "pi": m.pi, "po": m.po, "cycles": est.cycles[m.name],
                     **est.per_module[m.name].as_dict()} for m in graph.modules],
    }


def export_project(net: Network, board: str, out: str | Path, windows: list[Window] | None = None,
                   density: float = DEFAULT_DENSITY, fraction: float = DEFAULT_FRACTION, golden: int = 8) -> dict[str, Any]:
    """Plan and write the HLS project; the testbench gets ``golden`` windows (from ``windows`` or random)."""
    graph, est = plan(net, board, windows, density, fraction)
    tb = (windows or [])[:golden] or random_windows(net, golden, density)
    write_project(graph, out, board, golden=tb)
    return {"out": str(out), "board": board, "top": "edgevision_top", "modules": len(graph.modules),
            "parallelism": graph.parallelism(), "latency_ms": est.ms(sequential_cycles(est.cycles)),
            "latency_dataflow_ms": est.latency_ms, "resources": est.resources.as_dict(),
            "testbench_windows": len(tb)}


def run_csim(net: Network, windows: list[Window], board: str = "zcu102", project: str | Path | None = None,
             fraction: float = DEFAULT_FRACTION) -> dict[str, Any]:
    """C-simulate ``windows`` in one batch, compare with the NumPy reference, report cycles."""
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
    lats = np.array([_latencies(graph, dict(zip(names, row.astype(float)))) for row in res.cycles])
    seq, flow, interval = (float(np.median(lats[:, k])) for k in range(3))
    return {
        "windows": len(windows), "matched": matched,
        "module_cycles": {n: float(np.median(res.cycles[:, i])) for i, n in enumerate(names)},
        "total_cycles": seq, "dataflow_cycles": flow,
        "latency_ms": est.ms(seq), "latency_p95_ms": est.ms(float(np.percentile(lats[:, 0], 95))),
        "latency_dataflow_ms": est.ms(flow), "interval_ms": est.ms(interval), "latency_note": LATENCY_NOTE,
        "board": est.board.name,
        "parallelism": graph.parallelism(),
        "compile_s": t1 - t0, "csim_s": t2 - t1,
    }

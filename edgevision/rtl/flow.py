"""Stage functions behind ``edgevision export rtl``, ``rtlsim`` and ``synth``: plan the parallelism with the HLS
flow's search (same graph, same model), write the RTL, simulate it with Verilator, synthesize it with Yosys."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.fpga.boards import get_board
from edgevision.fpga.flow import DEFAULT_DENSITY, DEFAULT_FRACTION, plan
from edgevision.fpga.hwgraph import HwGraph
from edgevision.fpga.model import latency_cycles, measure_counts, module_cycles, sequential_cycles
from edgevision.rtl.latency import rtl_window_cycles
from edgevision.fpga.windows import Window
from edgevision.ir.schema import Network
from edgevision.rtl.codegen import write_rtl

RTL_NOTE = ("cycles_*: RTL-simulated by Verilator, first input word accepted to the TLAST output word, one window in "
            "flight, input at one 64-bit word per cycle, output always ready; latency_ms = cycles_p50 at the board "
            "clock (an achieved clock needs Vivado timing). model_cycles_*: edgevision.rtl.latency.rtl_window_cycles "
            "on the same windows' token counts")


def export_rtl(net: Network, board: str, out: str | Path, windows: list[Window] | None = None,
               density: float = DEFAULT_DENSITY, fraction: float = DEFAULT_FRACTION) -> dict[str, Any]:
    """Plan ``net`` for ``board`` and write the RTL directory plus the Vivado tcl (IP packaging, block design)."""
    from edgevision.rtl.scripts import write_rtl_scripts

    graph, est = plan(net, board, windows, density, fraction)
    manifest = write_rtl(graph, out, board)
    scripts = write_rtl_scripts(graph, out, board)
    return {"out": str(out), "board": board, "top": manifest["top"], "modules": len(graph.modules),
            "sources": manifest["sources"], "memories": len(manifest["memories"]), "scripts": scripts,
            "parallelism": graph.parallelism(), "model_resources": est.resources.as_dict()}


def _pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if a.size else 0.0


def rtl_model_cycles(graph: HwGraph, windows: list[Window]) -> np.ndarray:
    """The latency model's cycles (:func:`rtl_window_cycles`) per window from its exact token counts."""
    return np.asarray([rtl_window_cycles(graph, c) for c, _ in windows], np.float64)


def run_rtlsim(net: Network, windows: list[Window], board: str = "zcu102", rtl_dir: str | Path | None = None,
               fraction: float = DEFAULT_FRACTION, graph: HwGraph | None = None, opt: str = "-O1") -> dict[str, Any]:
    """Write the RTL for ``board``'s parallelism (or use ``graph`` as given), Verilator-simulate ``windows``,
    compare every output with the NumPy integer reference, report measured and modelled cycles."""
    from edgevision.quant.reference import run_network
    from edgevision.rtl.sim import simulate

    if graph is None:
        graph, _ = plan(net, board, windows, fraction=fraction)
    b = get_board(board)
    with tempfile.TemporaryDirectory(prefix="edgevision_rtl_") as tmp:
        d = Path(rtl_dir or tmp)
        write_rtl(graph, d, board)
        t0 = time.perf_counter()
        res = simulate(graph, d, windows, opt)
        t1 = time.perf_counter()
    matched = sum(int(np.array_equal(o, run_network(net, c, f))) for o, (c, f) in zip(res.outputs, windows))
    cyc = res.cycles.astype(np.float64)
    model = rtl_model_cycles(graph, windows)
    err = np.abs(model - cyc) / np.maximum(cyc, 1.0)
    names = [m.name for m in graph.modules]
    seq, flow = [], []
    for c, _ in windows:
        cnt = measure_counts(graph, c)
        cycles = {m.name: module_cycles(m, cnt[m.name]) for m in graph.modules}
        seq.append(sequential_cycles(cycles))
        flow.append(latency_cycles(graph, cycles))
    del names
    ms = 1.0 / (b.clock_mhz * 1e3)
    return {
        "windows": len(windows), "matched": matched,
        "cycles_p50": _pct(cyc, 50), "cycles_p95": _pct(cyc, 95), "cycles_max": float(cyc.max()) if cyc.size else 0.0,
        "latency_ms": _pct(cyc, 50) * ms, "latency_p95_ms": _pct(cyc, 95) * ms, "clock_mhz": b.clock_mhz,
        "model_cycles_p50": _pct(model, 50), "model_cycles_p95": _pct(model, 95),
        "model_error_max": float(err.max()) if err.size else 0.0,
        "model_error_p50": _pct(err, 50),
        "hls_sequential_cycles_p50": _pct(np.asarray(seq), 50), "hls_dataflow_model_cycles_p50": _pct(np.asarray(flow), 50),
        "tokens_p50": _pct(np.asarray([len(c) for c, _ in windows], np.float64), 50),
        "board": b.name, "parallelism": graph.parallelism(), "note": RTL_NOTE,
        "sim_s": t1 - t0,
    }

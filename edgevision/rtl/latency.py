"""The RTL latency model: cycles of one window through the generated SystemVerilog (:mod:`edgevision.rtl.codegen`),
token by token with FIFO back-pressure, first input word to the TLAST output word. Each op's cycle generator is
registered with its RTL module (``implementation("rtl", op).latency``); ``edgevision.rtl`` imports the codegen
(which registers them) before anything here runs. ``tests/rtl`` checks it against Verilator's cycles.
"""

from __future__ import annotations

import numpy as np

from edgevision.fpga.hwgraph import HwGraph, Module
from edgevision.fpga.model import cdiv, layer_sites, pool_cells
from edgevision.ir.ops import implementation
from edgevision.quant.reference import neighbor_table


RTL_SKIP_MARGIN = 8  # residual skip FIFOs: the HLS depth + this (edgevision/rtl/codegen.py uses it)
RTL_MIN_FIFO = 32  # every RTL stream FIFO holds at least this many tokens (LUTRAM): it absorbs the row bursts of
# the line-buffered and strided modules; with depth 2 the modelled p95 latency of the eye model was 2.3x higher


def rtl_fifo_depth(depth: int) -> int:
    """Depth of the RTL FIFO for a stream of HLS depth ``depth``."""
    return max(RTL_MIN_FIFO, depth + RTL_SKIP_MARGIN if depth > 2 else depth)


def _rtl_steps(m: Module, depthwise: bool = False) -> tuple[int, int]:
    """(MAC steps per neighbour / token, requantization steps per output token) of an RTL module (a depthwise one
    has no input-channel loop)."""
    nob = cdiv(m.cout, m.po)
    if depthwise:
        return nob, nob
    return cdiv(m.cin, m.pi) * nob, nob


class _RtlRun:
    """One window's replay: the sites of each layer, each stream's FIFO depth, the cycle each token is visible to
    its consumer (``vis``) and the cycle the consumer took it (``acc``), and the output's last cycle."""

    def __init__(self, graph: HwGraph, coords: np.ndarray) -> None:
        self.sites = layer_sites(graph, coords)
        self.depth = {n: rtl_fifo_depth(st.depth) for n, st in graph.streams.items()}
        self.vis: dict[str, list[int]] = {n: [] for n in graph.streams}
        self.acc: dict[str, list[int]] = {n: [] for n in graph.streams}
        self.last = 0

    def get(self, table: dict[str, list[int]], stream: str, i: int):
        lst = table[stream]
        while len(lst) <= i:
            yield
        return lst[i]

    def space(self, stream: str, j: int):
        d = self.depth[stream]
        if j < d:
            return 0
        v = yield from self.get(self.acc, stream, j - d)
        return v + 1

    def progress(self) -> int:
        return sum(len(v) for v in self.vis.values()) + sum(len(v) for v in self.acc.values())


def _rtl_input(run: _RtlRun, m: Module):
    vis, space = run.vis, run.space
    nfw = cdiv(m.cin, 8)
    o = m.outputs[0]
    t = 0
    n = len(run.sites["input"])
    for i in range(n):
        sp = yield from space(o, i)
        push = max(t + nfw + 1, sp)
        vis[o].append(push + 1)
        t = push
    sp = yield from space(o, n)
    vis[o].append(max(t + 1, sp) + 1)


def _rtl_fork(run: _RtlRun, m: Module):
    vis, acc, get, space = run.vis, run.acc, run.get, run.space
    n = len(run.sites[m.source])
    a, b = m.outputs
    free = 0
    for i in range(n + 1):
        t_in = yield from get(vis, m.inputs[0], i)
        st = max(t_in, free)
        acc[m.inputs[0]].append(st)
        sa = yield from space(a, i)
        sb = yield from space(b, i)
        pa, pb = max(st + 1, sa), max(st + 1, sb)
        vis[a].append(pa + 1)
        vis[b].append(pb + 1)
        free = max(pa, pb)


def _rtl_simple(run: _RtlRun, m: Module, n: int, work: int):
    """A module that spends ``work`` cycles per token (one for the end-of-frame token) on all its inputs."""
    vis, acc, get, space = run.vis, run.acc, run.get, run.space
    o = m.outputs[0]
    free = 0
    for i in range(n + 1):
        t_in = 0
        for s_in in m.inputs:
            t = yield from get(vis, s_in, i)
            t_in = max(t_in, t)
        st = max(t_in, free)
        for s_in in m.inputs:
            acc[s_in].append(st)
        sp = yield from space(o, i)
        push = max(st + (work if i < n else 1), sp)
        vis[o].append(push + 1)
        free = push + 1


def rtl_latency_pool(run: _RtlRun, m: Module, src: np.ndarray):
    vis, acc, get = run.vis, run.acc, run.get
    nob = cdiv(m.cin, m.po)
    free = 0
    for i in range(len(src) + 1):
        t_in = yield from get(vis, m.inputs[0], i)
        st = max(t_in, free)
        acc[m.inputs[0]].append(st)
        free = st + nob + 4
    run.last = st + pool_cells(m) * (2 + cdiv(m.cin, 8))


def _rtl_subm(run: _RtlRun, m: Module, src: np.ndarray, depthwise: bool):
    vis, acc, get, space = run.vis, run.acc, run.get, run.space
    mac, nob = _rtl_steps(m, depthwise)
    o = m.outputs[0]
    nb = (neighbor_table(src, m.grid) >= 0).sum(1).tolist() if len(src) else []
    rows = src[:, 0].tolist()
    by_row: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        by_row.setdefault(int(r), []).append(i)
    n = len(rows)
    out: dict[int, int] = {}
    emitted = 0
    free, last = 0, -1
    for i in range(n + 1):
        r = rows[i] if i < n else m.grid[0] + 1
        t_in = yield from get(vis, m.inputs[0], i)
        st = max(t_in, free)
        acc[m.inputs[0]].append(st)
        cur = st + 1
        lo, hi = max(last - 1, 0), min(last, r - 2)
        if r != last and last >= 0 and lo <= hi:
            for q in range(lo, hi + 1):
                cur += 1  # EMIT_ROW
                for j in by_row.get(q, ()):
                    cur += nb[j] * mac + nob + 3  # SITE, NBR, MAC, REQ
                    sp = yield from space(o, j)
                    cur = max(cur, sp)  # OUT until the FIFO takes it
                    out[j] = cur + 1
                    while emitted in out:  # sites leave in raster order
                        vis[o].append(out.pop(emitted))
                        emitted += 1
                    cur += 1
                if q in by_row:
                    cur += 1  # SITE with nothing pending
        if i < n:
            free = cur + 1  # STORE
            last = r
        else:
            sp = yield from space(o, n)
            cur = max(cur, sp)
            vis[o].append(cur + 1)  # ENDT


def rtl_latency_conv2x2_s2(run: _RtlRun, m: Module, src: np.ndarray):
    vis, acc, get, space = run.vis, run.acc, run.get, run.space
    n_out_rows = run.sites[m.layer.name][:, 0]
    mac, nob = _rtl_steps(m)
    o = m.outputs[0]
    tys = (src[:, 0] // 2).tolist()
    orow: dict[int, list[int]] = {}
    for j, oy in enumerate(n_out_rows.tolist()):
        orow.setdefault(int(oy), []).append(j)
    n = len(tys)
    free, cur_y = 0, -1
    for i in range(n + 1):
        ty = tys[i] if i < n else -2
        t_in = yield from get(vis, m.inputs[0], i)
        st = max(t_in, free)
        acc[m.inputs[0]].append(st)
        cur = st + 1
        if ty != cur_y and cur_y >= 0:
            for j in orow.get(cur_y, ()):
                cur += nob + 3  # EMIT, ELOAD, EREQ
                sp = yield from space(o, j)
                cur = max(cur, sp)
                vis[o].append(cur + 1)
                cur += 1
            cur += 1  # EMIT with nothing pending
        if i < n:
            free = cur + mac + 4  # LWAIT, LOAD, MAC, DRAIN, WB
            cur_y = ty
        else:
            sp = yield from space(o, len(n_out_rows))
            cur = max(cur, sp)
            vis[o].append(cur + 1)


# Each RTL op's latency generator (run, module, its layer's input sites), registered with the op's RTL
# instantiation in edgevision/rtl/codegen.py (backend "rtl", RtlOp.latency); the adapters below are not ops.
def rtl_latency_subm3x3(run: _RtlRun, m: Module, src: np.ndarray):
    return _rtl_subm(run, m, src, depthwise=False)


def rtl_latency_dwconv3x3(run: _RtlRun, m: Module, src: np.ndarray):
    return _rtl_subm(run, m, src, depthwise=True)


def rtl_latency_conv1x1(run: _RtlRun, m: Module, src: np.ndarray):
    mac, nob = _rtl_steps(m)
    return _rtl_simple(run, m, len(src), mac + nob + 2)  # MAC, REQ (+ drain), OUT


def rtl_latency_add(run: _RtlRun, m: Module, src: np.ndarray):
    return _rtl_simple(run, m, len(src), cdiv(m.cin, m.po) + 1)  # CALC, OUT


RTL_ADAPTERS = {"input": _rtl_input, "fork": _rtl_fork, "output": None}


def rtl_window_cycles(graph: HwGraph, coords: np.ndarray) -> float:
    """Modelled RTL cycles of one window: first input word accepted to the TLAST output word (inclusive), input
    at one 64-bit word per cycle, output always ready.

    Every module is a generator that walks its tokens and waits (yields) until the time it needs is known: an
    input token's arrival, or, for a push into a FIFO of depth D, the cycle its consumer took token j - D. The
    scheduler resumes them until all are done, so back-pressure is solved exactly for these per-token costs.
    Each op's generator is its ``implementation("rtl", op).latency`` (an op the RTL lacks raises, naming it)."""
    run = _RtlRun(graph, coords)
    gens = []
    for m in graph.modules:
        if m.kind in RTL_ADAPTERS:
            if RTL_ADAPTERS[m.kind] is not None:
                gens.append(RTL_ADAPTERS[m.kind](run, m))
            continue
        gens.append(implementation("rtl", m.kind).latency(run, m, run.sites[m.layer.inputs[0]]))
    active = list(gens)
    while active:
        before = run.progress()
        still = []
        for g in active:
            try:
                next(g)
                still.append(g)
            except StopIteration:
                pass
        after = run.progress()
        if still and after == before and len(still) == len(active):
            raise AssertionError("RTL latency model: no module can advance (the FIFO sizing would deadlock)")
        active = still
    return float(run.last + 1)

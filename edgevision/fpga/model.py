"""Cycle and resource model of the generated accelerator.

Cycles per module mirror what the HLS modules count in C simulation (pipelined iterations at II = 1), written
as functions of token counts (measured on windows or estimated from a density), channels and parallelism:
``ceil(CI/PI) * ceil(CO/PO)`` MAC steps per active neighbour (3x3), per input token (2x2 stride 2, 1x1) or per
vector (fc), ``ceil(CO/PO)`` steps per output token to requantize, one step per token read, and per-frame
resets. Latency of the dataflow pipeline = bottleneck module + fill (pipeline depths, two rows of line
buffering per 3x3/2x2 module) + the tail that runs after the frame (pool division, fc, output words).
The sum of all modules' cycles (no overlap, what C simulation runs) is what reports give as the latency: not a
proven bound (only pipelined iterations are counted), though the RTL of the same architecture measured below it
on every window tried; the bottleneck alone is a lower bound (see docs/fpga.md). ``rtl_window_cycles`` below models the RTL design.
Resources: DSP from PI x PO MAC lanes (two int8 MACs per DSP48E2 on Zynq UltraScale+) and requantization
lanes, BRAM18K from weight ROMs, line buffers, accumulators and deep FIFOs, LUT from a per-lane estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgevision.fpga.boards import Board
from edgevision.fpga.hwgraph import LINE_BUFFERED, HwGraph, Module
from edgevision.ir.ops import OPS, implementation, register
from edgevision.quant.reference import downsample_sites, neighbor_table

# Estimated pipeline depths (cycles from first input to first output of a pipelined loop nest).
DEPTH = {"input": 2, "conv3x3_subm": 8, "dwconv3x3_subm": 8, "conv2x2_s2": 8, "conv1x1": 6, "add": 4, "fork": 1,
         "pool": 4, "fc": 6, "output": 2}
REQUANT_DSP = 4  # 32 x 32 -> 64-bit multiply of a requantization lane, in DSP48 slices
LUT_BASE, LUT_PER_MAC, LUT_PER_LANE, LUT_DIVIDER = 400, 12, 160, 2500


def cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


@dataclass
class Counts:
    """Token statistics of one module's input for one window (or their mean over windows)."""

    n: float = 0.0  # input tokens
    n_out: float = 0.0  # output tokens (conv2x2_s2)
    nbrs: float = 0.0  # active 3x3 neighbours summed over sites (the site itself included)


def measure_counts(graph: HwGraph, coords: np.ndarray) -> dict[str, Counts]:
    """Exact per-module token counts of one window (site sets propagated with the reference's geometry)."""
    net = graph.net
    shapes = net.shapes()
    sites: dict[str, np.ndarray] = {"input": np.asarray(coords, np.int32).reshape(-1, 2)}
    for lay in net.layers:
        src = sites.get(lay.inputs[0])
        if OPS[lay.op].grid == "half":
            sites[lay.name] = downsample_sites(src, shapes[lay.inputs[0]])[0]
        elif src is not None and OPS[lay.op].sparse_out:
            sites[lay.name] = src
    out: dict[str, Counts] = {}
    for m in graph.modules:
        if not _model(m).streams:
            out[m.name] = Counts()
            continue
        src = sites[m.source] if m.layer is None else sites[m.layer.inputs[0]]
        c = Counts(n=float(len(src)))
        if m.kind in LINE_BUFFERED:
            c.nbrs = float((neighbor_table(src, m.grid) >= 0).sum())
        elif m.layer is not None and OPS[m.kind].level_step:
            c.n_out = float(len(sites[m.layer.name]))
        out[m.name] = c
    return out


def mean_counts(per_window: list[dict[str, Counts]]) -> dict[str, Counts]:
    keys = per_window[0].keys()
    return {k: Counts(*(float(np.mean([getattr(w[k], f) for w in per_window])) for f in ("n", "n_out", "nbrs")))
            for k in keys}


def estimate_counts(graph: HwGraph, density: float) -> dict[str, Counts]:
    """Expected counts for uniformly random active sites at input ``density`` (no data)."""
    shapes = graph.net.shapes()
    dens: dict[str, float] = {"input": float(density)}
    for lay in graph.net.layers:
        d = dens.get(lay.inputs[0], 0.0)
        # an output site of a stride-2 op is active when any of the 2 x 2 input sites of its cell is
        dens[lay.name] = 1.0 - (1.0 - d) ** 4 if OPS[lay.op].level_step else d
    out: dict[str, Counts] = {}
    for m in graph.modules:
        if not _model(m).streams:
            out[m.name] = Counts()
            continue
        src = m.source if m.layer is None else m.layer.inputs[0]
        h, w = shapes[src]
        d = dens[src]
        c = Counts(n=d * h * w)
        if m.kind in LINE_BUFFERED:  # interior approximation: 8 neighbours, each active with probability d
            c.nbrs = c.n * (1.0 + 8.0 * d * (h - 2) * (w - 2) / (h * w))
        elif m.layer is not None and OPS[m.kind].level_step:
            oh, ow = shapes[m.layer.name]  # the op's output grid (OPS[...].out_grid)
            c.n_out = dens[m.layer.name] * oh * ow
        out[m.name] = c
    return out


def mac_steps(m: Module) -> int:
    """Pipelined MAC steps per neighbour / token / vector of a PI x PO MAC array (a depthwise module has PO
    lanes only: ``ceil(CO/PO)``, see :func:`_dwconv3x3_cycles`)."""
    return cdiv(m.cin, m.pi) * cdiv(m.cout, m.po)


def _line_buffered_cycles(m: Module, c: Counts, lanes: int, steps: int) -> float:
    """A 3x3 module: a row of fill, each token stored as ``lanes``-wide words, ``steps`` MAC steps per active
    neighbour, then requantization."""
    return m.grid[1] + 1 + c.n * cdiv(m.cin, lanes) + c.nbrs * steps + c.n * cdiv(m.cout, m.po)


def _conv3x3_cycles(m: Module, c: Counts) -> float:
    return _line_buffered_cycles(m, c, m.pi, mac_steps(m))


def _dwconv3x3_cycles(m: Module, c: Counts) -> float:
    return _line_buffered_cycles(m, c, m.po, cdiv(m.cout, m.po))  # per channel: PO lanes, no input reduction


def _conv2x2_s2_cycles(m: Module, c: Counts) -> float:
    return cdiv(m.grid[1], 2) + c.n + 1 + c.n * mac_steps(m) + c.n_out * cdiv(m.cout, m.po)


def _conv1x1_cycles(m: Module, c: Counts) -> float:
    return c.n + 1 + c.n * (mac_steps(m) + cdiv(m.cout, m.po))


def _add_cycles(m: Module, c: Counts) -> float:
    return c.n + 1 + c.n * cdiv(m.cin, m.po)


def _pool_cycles(m: Module, c: Counts) -> float:
    cells = _cells(m)
    return cells + c.n + 1 + c.n * cdiv(m.cin, m.po) + cells * cdiv(m.cin, m.po)


def _fc_cycles(m: Module, c: Counts) -> float:
    return mac_steps(m) + (cdiv(m.cout, m.po) if m.layer.attrs.get("requant") else 0)


def _cells(m: Module) -> int:
    g = m.layer.attrs["grid"]
    return int(g[0]) * int(g[1])


def _mac_array(m: Module, pack: int) -> Resources:
    """PI x PO MAC lanes with their weight ROM banks, plus PO requantization lanes unless it emits logits."""
    macs = m.pi * m.po
    r = Resources(dsp=cdiv(macs, pack), lut=LUT_PER_MAC * macs)
    r += memory(8 * m.pi, cdiv(m.layer.tensors["weight"].size, m.pi * m.po), banks=m.po)
    if m.layer.attrs.get("requant", True):
        r += Resources(dsp=REQUANT_DSP * m.po, lut=LUT_PER_LANE * m.po)
    return r


def _line_buffer(m: Module, lanes: int) -> Resources:
    """Three rows of the input grid, a token stored as ``lanes``-wide words."""
    return memory(8 * lanes, 3 * m.grid[1] * cdiv(m.cin, lanes))


def _conv3x3_resources(m: Module, pack: int) -> Resources:
    return _mac_array(m, pack) + _line_buffer(m, m.pi)


def _conv2x2_s2_resources(m: Module, pack: int) -> Resources:
    return _mac_array(m, pack) + memory(32 * m.po, cdiv(m.grid[1], 2) * cdiv(m.cout, m.po))  # a row of outputs


def _dwconv3x3_resources(m: Module, pack: int) -> Resources:
    r = Resources(dsp=cdiv(m.po, pack) + REQUANT_DSP * m.po, lut=(LUT_PER_MAC + LUT_PER_LANE) * m.po)
    return r + memory(8, 9 * cdiv(m.cout, m.po), banks=m.po) + _line_buffer(m, m.po)


def _add_resources(m: Module, pack: int) -> Resources:
    return Resources(dsp=2 * 2 * m.po, lut=LUT_PER_LANE * m.po)  # two int8 x int32 products per lane


def _pool_resources(m: Module, pack: int) -> Resources:
    return Resources(dsp=REQUANT_DSP * m.po, lut=LUT_DIVIDER * m.po) + memory(32 * m.po, _cells(m) * cdiv(m.cin, m.po))


@dataclass(frozen=True)
class ModuleModel:
    """The model of one module kind: ``cycles(module, counts)`` for one window, ``resources(module, pack)``
    beyond the module's base LUTs (``pack`` int8 MACs per DSP), ``tail(module)`` the cycles that run only
    after the whole frame has streamed through, whether it streams tokens (False: it runs after the frame
    on a dense vector) and whether it buffers input rows (two rows of it count in the pipeline fill). Each op's model is registered against its declaration (backend ``fpga_model``); the
    adapters (input, output, fork) are not ops and are listed in :data:`ADAPTERS`."""

    cycles: Callable[[Module, Counts], float]
    resources: Callable[[Module, int], Resources]
    tail: Callable[[Module], float] = lambda m: 0.0
    streams: bool = True
    buffers_rows: bool = False
    base_lut: float = LUT_BASE


for _op, _model_of in {
    "conv3x3_subm": ModuleModel(_conv3x3_cycles, _conv3x3_resources, buffers_rows=True),
    "dwconv3x3_subm": ModuleModel(_dwconv3x3_cycles, _dwconv3x3_resources, buffers_rows=True),
    "conv2x2_s2": ModuleModel(_conv2x2_s2_cycles, _conv2x2_s2_resources, buffers_rows=True),
    "conv1x1": ModuleModel(_conv1x1_cycles, _mac_array),
    "add": ModuleModel(_add_cycles, _add_resources),
    "pool": ModuleModel(_pool_cycles, _pool_resources, tail=lambda m: _cells(m) * cdiv(m.cin, m.po)),
    "fc": ModuleModel(_fc_cycles, _mac_array, tail=lambda m: _fc_cycles(m, Counts()), streams=False),
}.items():
    register("fpga_model", _op, _model_of)

ADAPTERS = {
    "input": ModuleModel(lambda m, c: c.n * (1 + cdiv(m.cout, 8)) + 1, lambda m, pack: Resources(),
                         base_lut=LUT_BASE / 2),
    "output": ModuleModel(lambda m, c: cdiv(m.cin, 64 // m.elem_bits), lambda m, pack: Resources(),
                          tail=lambda m: cdiv(m.cin, 64 // m.elem_bits), streams=False, base_lut=LUT_BASE / 2),
    "fork": ModuleModel(lambda m, c: c.n + 1, lambda m, pack: Resources(), base_lut=LUT_BASE / 2),
}


def _model(m: Module) -> ModuleModel:
    """The model of ``m``: an adapter's, or its op's from the registry (an unmodelled op raises, naming it)."""
    return ADAPTERS.get(m.kind) or implementation("fpga_model", m.kind)


def module_cycles(m: Module, c: Counts) -> float:
    """Cycles of one module for one window; the same accounting as the HLS modules' counters."""
    return _model(m).cycles(m, c)


def tail_cycles(m: Module) -> float:
    """Cycles of a module that run only after the whole frame has streamed through."""
    return _model(m).tail(m)


def interval_cycles(graph: HwGraph, cycles: dict[str, float]) -> float:
    """Streaming cycles of the rate-setting (bottleneck) module: the window interval of a fully overlapped
    pipeline, a lower bound on any latency."""
    return max(cycles[m.name] - tail_cycles(m) for m in graph.modules if _model(m).streams)


def sequential_cycles(cycles: dict[str, float]) -> float:
    """All modules one after another (no overlap): what the C simulation runs and its ``cycles`` register
    reports. Not a proven bound: per-token control and pipeline-fill cycles are not counted (docs/fpga.md)."""
    return float(sum(cycles.values()))


def latency_cycles(graph: HwGraph, cycles: dict[str, float]) -> float:
    """Modelled dataflow latency of one window (first input word to last output word, modules overlapped):
    bottleneck streaming module + fill + post-frame tail. An estimate between the two bounds above."""
    stream = [m for m in graph.modules if _model(m).streams]
    bottleneck = interval_cycles(graph, cycles)
    fill = sum(DEPTH[m.kind] for m in graph.modules)
    fill += sum(2.0 / max(m.grid[0], 1) * cycles[m.name] for m in stream if _model(m).buffers_rows)
    return bottleneck + fill + sum(tail_cycles(m) for m in graph.modules)


@dataclass
class Resources:
    dsp: float = 0.0
    bram18k: float = 0.0
    lut: float = 0.0

    def __add__(self, o: "Resources") -> "Resources":
        return Resources(self.dsp + o.dsp, self.bram18k + o.bram18k, self.lut + o.lut)

    def as_dict(self) -> dict[str, int]:
        return {"dsp": int(round(self.dsp)), "bram18k": int(round(self.bram18k)), "lut": int(round(self.lut))}


def memory(width_bits: int, depth: int, banks: int = 1) -> Resources:
    """``banks`` memories of ``depth`` words x ``width_bits``: LUTRAM when small (< 4 Kbit), else BRAM18K
    in the 1K x 18 configuration."""
    bits = width_bits * depth
    if depth <= 0 or width_bits <= 0:
        return Resources()
    if bits < 4096:
        return Resources(lut=banks * cdiv(bits, 64))
    return Resources(bram18k=banks * cdiv(width_bits, 18) * cdiv(depth, 1024))


def fifo(width_bits: int, depth: int) -> Resources:
    """A stream FIFO: shift registers (SRL32) up to depth 32, BRAM beyond."""
    if depth <= 32:
        return Resources(lut=width_bits)
    return Resources(bram18k=cdiv(width_bits, 36) * cdiv(depth, 512))


def module_resources(m: Module, board: Board) -> Resources:
    """DSP, BRAM18K and LUT estimate of one module on ``board``."""
    pack = 2 if board.family == "zynquplus" else 1  # two int8 MACs per DSP48E2 (shared input operand)
    model = _model(m)
    return Resources(lut=model.base_lut) + model.resources(m, pack)


def graph_resources(graph: HwGraph, board: Board) -> tuple[Resources, dict[str, Resources]]:
    per = {m.name: module_resources(m, board) for m in graph.modules}
    total = Resources()
    for r in per.values():
        total = total + r
    for s in graph.streams.values():
        width = 8 * s.width + (33 if s.kind == "token" else 0)
        if s.kind != "token":
            width = (8 if s.kind == "vec" else 32) * s.width
        total = total + fifo(width, s.depth)
    return total, per


@dataclass
class Estimate:
    board: Board
    cycles: dict[str, float]
    latency_cycles: float
    resources: Resources
    per_module: dict[str, Resources] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        """Modelled dataflow latency (the search objective), ms."""
        return self.ms(self.latency_cycles)

    def ms(self, cycles: float) -> float:
        return cycles / (self.board.clock_mhz * 1e3)

    def fits(self, fraction: float) -> bool:
        b, r = self.board, self.resources
        return r.dsp <= fraction * b.dsp and r.bram18k <= fraction * b.bram18k and r.lut <= fraction * b.lut


def estimate(graph: HwGraph, counts: dict[str, Counts], board: Board) -> Estimate:
    cycles = {m.name: module_cycles(m, counts[m.name]) for m in graph.modules}
    total, per = graph_resources(graph, board)
    return Estimate(board, cycles, latency_cycles(graph, cycles), total, per)


# ---------------------------------------------------------------------------------------------------------------
# Latency of the RTL design (edgevision/rtl, fpga/rtl/ev_lib.sv), token by token.
#
# The HLS counters above count pipelined iterations of modules run one after another. The RTL modules run
# concurrently (a real dataflow pipeline) and each spends a fixed number of FSM cycles per token, per active
# neighbour step and per emitted site. This model replays one window's tokens through the module graph with those
# per-token costs: a module starts a token at max(arrival, free), line-buffered modules emit a row when a token of
# a later row (or the end of frame) arrives, a FIFO adds one cycle, and a FIFO of depth D lets a producer push
# token j only after its consumer took token j - D (back-pressure; solved by repeating the forward pass until the
# times stop changing). It is an estimate checked against Verilator cycles by `edgevision rtlsim`.

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


def _rtl_sites(graph: HwGraph, coords: np.ndarray) -> dict[str, np.ndarray]:
    net = graph.net
    shapes = net.shapes()
    sites: dict[str, np.ndarray] = {"input": np.asarray(coords, np.int32).reshape(-1, 2)}
    for lay in net.layers:
        src = sites.get(lay.inputs[0])
        if OPS[lay.op].grid == "half":
            sites[lay.name] = downsample_sites(src, shapes[lay.inputs[0]])[0]
        elif src is not None and OPS[lay.op].sparse_out:
            sites[lay.name] = src
    return sites


class _RtlRun:
    """One window's replay: the sites of each layer, each stream's FIFO depth, the cycle each token is visible to
    its consumer (``vis``) and the cycle the consumer took it (``acc``), and the output's last cycle."""

    def __init__(self, graph: HwGraph, coords: np.ndarray) -> None:
        self.sites = _rtl_sites(graph, coords)
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
    run.last = st + _cells(m) * (2 + cdiv(m.cin, 8))


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
    from edgevision.rtl import codegen  # noqa: F401  (registers the "rtl" ops; it imports this module)

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

"""Cycle and resource model of the generated accelerator.

Cycles per module mirror what the HLS modules count in C simulation (pipelined iterations at II = 1), written
as functions of token counts (measured on windows or estimated from a density), channels and parallelism:
``ceil(CI/PI) * ceil(CO/PO)`` MAC steps per active neighbour (3x3), per input token (2x2 stride 2, 1x1) or per
vector (fc), ``ceil(CO/PO)`` steps per output token to requantize, one step per token read, and per-frame
resets. Latency of the dataflow pipeline = bottleneck module + fill (pipeline depths, two rows of line
buffering per 3x3/2x2 module) + the tail that runs after the frame (pool division, fc, output words).
The sum of all modules' cycles (no overlap, what C simulation runs) is what reports give as the latency: not a
proven bound (only pipelined iterations are counted), though the RTL of the same architecture measured below it
on every window tried; the bottleneck alone is a lower bound (see docs/fpga.md). The RTL design's own latency model is :mod:`edgevision.rtl.latency`.
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


def layer_sites(graph: HwGraph, coords: np.ndarray) -> dict[str, np.ndarray]:
    """The active sites of every sparse layer's output for one window's input ``coords`` (the reference's geometry)."""
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


def measure_counts(graph: HwGraph, coords: np.ndarray) -> dict[str, Counts]:
    """Exact per-module token counts of one window (site sets propagated with the reference's geometry)."""
    sites = layer_sites(graph, coords)
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
    cells = pool_cells(m)
    return cells + c.n + 1 + c.n * cdiv(m.cin, m.po) + cells * cdiv(m.cin, m.po)


def _fc_cycles(m: Module, c: Counts) -> float:
    return mac_steps(m) + (cdiv(m.cout, m.po) if m.layer.attrs.get("requant") else 0)


def pool_cells(m: Module) -> int:
    """Cells of a pool layer's output grid."""
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
    return Resources(dsp=REQUANT_DSP * m.po, lut=LUT_DIVIDER * m.po) + memory(32 * m.po, pool_cells(m) * cdiv(m.cin, m.po))


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
    "pool": ModuleModel(_pool_cycles, _pool_resources, tail=lambda m: pool_cells(m) * cdiv(m.cin, m.po)),
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

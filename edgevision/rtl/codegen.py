"""SystemVerilog generation: the module graph of :mod:`edgevision.fpga.hwgraph` (the same graph the HLS
generator, the C simulation and the model read) -> one flat RTL directory.

Written files: ``ev_lib.sv`` (the module library, copied from ``fpga/rtl``), ``edgevision_core.sv`` (the
generated network: one module per layer, one FIFO per stream, AXI4-Stream in/out), ``edgevision_top.sv`` (core
+ the AXI-Lite control block with the register map of :mod:`edgevision.ir.stream`), ``*.hex`` weight, bias and
multiplier ROMs for ``$readmemh`` (file names without directories: simulators and synthesis run in this
directory, Vivado resolves them as project memory files) and ``rtl_manifest.json``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.atomic import write_text_atomic
from edgevision.errors import BackendError
from edgevision.fpga.hwgraph import HwGraph, Module
from edgevision.rtl.latency import (  # one FIFO sizing rule and per-op latency for the RTL and its latency model
    rtl_fifo_depth, rtl_latency_add, rtl_latency_conv1x1, rtl_latency_conv2x2_s2, rtl_latency_dwconv3x3,
    rtl_latency_pool, rtl_latency_subm3x3)
from edgevision.ir.ops import implementation, implementations, register
from edgevision.resources import shipped

LIBRARY = shipped("fpga/rtl")
LIB_FILES = ("ev_func.svh", "ev_lib.sv", "ev_axilite.sv")


def cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def token_width(c: int) -> int:
    return 33 + 8 * int(c)


def _hex_words(words: np.ndarray, nbytes: int) -> str:
    """Rows of ``nbytes`` uint8 (byte 0 least significant) -> one hex word per line."""
    words = np.asarray(words, np.uint8).reshape(-1, nbytes)
    return "".join(bytes(row[::-1]).hex() + "\n" for row in words)


def _hex32(values: np.ndarray, length: int) -> str:
    v = np.zeros(length, np.int64)
    arr = np.asarray(values, np.int64).reshape(-1)
    v[: arr.size] = arr
    return "".join(f"{int(x) & 0xFFFFFFFF:08x}\n" for x in v)


def _mac_rom(m: Module) -> tuple[np.ndarray, int]:
    """Weight ROM of a conv with ``taps`` kernel positions: word [tap, cb, ob] holds PO x PI weights."""
    w = m.layer.tensors["weight"].astype(np.int8)
    taps = w[0].size // m.cin  # kernel positions (1 for a 1x1 conv)
    w = w.reshape(m.cout, taps, m.cin)
    ncb, nob = cdiv(m.cin, m.pi), cdiv(m.cout, m.po)
    pad = np.zeros((nob * m.po, taps, ncb * m.pi), np.int8)
    pad[: m.cout, :, : m.cin] = w
    # [ob, po, tap, cb, pi] -> [tap, cb, ob, po, pi]
    arr = pad.reshape(nob, m.po, taps, ncb, m.pi).transpose(2, 3, 0, 1, 4)
    return arr.reshape(-1, m.po * m.pi), m.po * m.pi


def _dw_rom(m: Module) -> tuple[np.ndarray, int]:
    """Weight ROM of a depthwise 3x3 conv: word [k, ob] holds PO weights."""
    w = m.layer.tensors["weight"].astype(np.int8)
    nob = cdiv(m.cout, m.po)
    pad = np.zeros((nob * m.po, 9), np.int8)
    pad[: m.cout] = w.reshape(m.cout, 9)
    # [ob, p, k] -> [k, ob, p]
    return pad.reshape(nob, m.po, 9).transpose(2, 0, 1).reshape(-1, m.po), m.po


def rom_words(m: Module) -> tuple[np.ndarray, int]:
    """The weight ROM of a MAC module as [words, bytes per word] int8 in the library's layout."""
    return implementation("rtl", m.kind).rom(m)


@dataclass
class _Core:
    """What the per-op instantiations share: the core's lines, the ROM files (name -> text), the error
    outputs to OR together and each stream's consuming module."""

    lines: list[str]
    files: dict[str, str]
    errs: list[str] = field(default_factory=list)
    consumer: dict[str, Module] = field(default_factory=dict)


@dataclass(frozen=True)
class RtlOp:
    """The RTL of one op: ``emit(module, core)`` instantiates it (and writes its ROMs), ``check(module)`` raises
    :class:`BackendError` for what the library module cannot take, ``rom`` is the weight ROM layout of a MAC
    module and ``latency(run, module, sites)`` its token-by-token generator in
    :func:`edgevision.rtl.latency.rtl_window_cycles` (``sites``: the input sites of its layer)."""

    emit: Callable[[Module, _Core], None]
    latency: Callable[..., Any]
    check: Callable[[Module], None] = lambda m: None
    rom: Callable[[Module], tuple[np.ndarray, int]] | None = None


def check_supported(graph: HwGraph) -> None:
    """Raise :class:`BackendError` for what the RTL library does not implement (yet)."""
    for m in graph.modules:
        if m.kind in ADAPTERS:
            continue
        try:
            op = implementation("rtl", m.kind)
        except NotImplementedError as exc:
            hls = "; the HLS flow (`edgevision export hls`) supports it" if m.kind in implementations("hls") else ""
            raise BackendError(f"RTL: layer {m.name!r} ({m.kind}) is not implemented in the RTL library yet "
                               f"({exc}){hls}") from exc
        op.check(m)


def _check_grid(m: Module) -> None:
    if max(m.grid) > 4096:
        raise BackendError(f"RTL: {m.name!r}: grid {m.grid} too large")


def _check_pool(m: Module) -> None:
    if m.cin % 8:
        raise BackendError(f"RTL: pool {m.name!r} has {m.cin} channels; the RTL pool writes 8 channels per output "
                           "word and needs a multiple of 8")
    _check_grid(m)


def _bounds(m: Module) -> tuple[int, int]:
    return m.bounds()


def _lp(name: str, value) -> str:
    return f".{name}({value})"


def _io(i: str, o: str) -> str:
    return (f".in_v({i}_v), .in_r({i}_r), .in_d({i}_d), "
            f".out_v({o}_iv), .out_r({o}_ir), .out_d({o}_id)")


def _emit_input(m: Module, core: _Core) -> None:
    outs = m.outputs
    core.lines.append(f"  logic err_{m.name};")
    core.lines.append(f"  ev_axis_in #(.C({m.cin})) u_{m.name} (.clk(clk), .rst(rst), .s_tvalid(s_axis_tvalid), "
                      f".s_tready(s_axis_tready), .s_tdata(s_axis_tdata), .s_tlast(s_axis_tlast), "
                      f".out_v({outs[0]}_iv), .out_r({outs[0]}_ir), .out_d({outs[0]}_id), .err(err_{m.name}));")
    core.errs.append(f"err_{m.name}")


def _emit_fork(m: Module, core: _Core) -> None:
    ins, (a, b) = m.inputs, m.outputs
    core.lines.append(f"  ev_fork #(.W({token_width(m.cin)})) u_{m.name} (.clk(clk), .rst(rst), .in_v({ins[0]}_v), "
                      f".in_r({ins[0]}_r), .in_d({ins[0]}_d), .a_v({a}_iv), .a_r({a}_ir), .a_d({a}_id), "
                      f".b_v({b}_iv), .b_r({b}_ir), .b_d({b}_id));")


# The stream adapters (not IR ops): the input adapter, the forks, and the output (the pool drives m_axis itself).
ADAPTERS: dict[str, Callable[[Module, _Core], None]] = {
    "input": _emit_input, "fork": _emit_fork, "output": lambda m, core: None}


def _emit_mac(m: Module, core: _Core, mod: str, grid: bool, extra: tuple[str, ...] = ()) -> None:
    """A MAC module ``mod`` (its weight, bias and multiplier ROMs); ``grid``: it takes the grid's H, W."""
    lay, pre = m.layer, m.name
    lo, hi = _bounds(m)
    words, nb = rom_words(m)
    nob = cdiv(m.cout, m.po)
    core.files[f"{pre}_w.hex"] = _hex_words(words.view(np.uint8), nb)
    core.files[f"{pre}_b.hex"] = _hex32(lay.tensors["bias"], nob * m.po)
    core.files[f"{pre}_m.hex"] = _hex32(lay.tensors["mult"], nob * m.po)
    params = [_lp("CI", m.cin), _lp("CO", m.cout), _lp("PI", m.pi), _lp("PO", m.po), _lp("SHIFT", int(lay.attrs["shift"])),
              _lp("LO", lo), _lp("HI", hi), f'.WFILE("{pre}_w.hex")', f'.BFILE("{pre}_b.hex")',
              f'.MFILE("{pre}_m.hex")']
    if grid:
        params = [_lp("H", m.grid[0]), _lp("W", m.grid[1])] + params
    params += list(extra)
    core.lines.append(f"  {mod} #({', '.join(params)}) u_{m.name} (.clk(clk), .rst(rst), {_io(m.inputs[0], m.outputs[0])});")


def _emit_add(m: Module, core: _Core) -> None:
    lay, pre = m.layer, m.name
    lo, hi = _bounds(m)
    nob = cdiv(m.cin, m.po)
    core.files[f"{pre}_ma.hex"] = _hex32(lay.tensors["mult_a"], nob * m.po)
    core.files[f"{pre}_mb.hex"] = _hex32(lay.tensors["mult_b"], nob * m.po)
    a, b = m.inputs
    o = m.outputs[0]
    core.lines.append(f"  logic err_{m.name};")
    core.lines.append(f"  ev_add #(.C({m.cin}), .P({m.po}), .SHIFT({int(lay.attrs['shift'])}), .LO({lo}), .HI({hi}), "
                      f'.MAFILE("{pre}_ma.hex"), .MBFILE("{pre}_mb.hex")) u_{m.name} (.clk(clk), .rst(rst), '
                      f".a_v({a}_v), .a_r({a}_r), .a_d({a}_d), .b_v({b}_v), .b_r({b}_r), .b_d({b}_d), "
                      f".out_v({o}_iv), .out_r({o}_ir), .out_d({o}_id), .err(err_{m.name}));")
    core.errs.append(f"err_{m.name}")


def _emit_pool(m: Module, core: _Core) -> None:
    lay, pre, ins, outs = m.layer, m.name, m.inputs, m.outputs
    if core.consumer.get(outs[0]) is None or core.consumer[outs[0]].kind != "output":
        raise BackendError(f"RTL: pool {m.name!r} must be the network output (fc after pool is not in the RTL library yet)")
    lo, hi = _bounds(m)
    shift = int(lay.attrs["shift"])
    gh, gw = (int(g) for g in lay.attrs["grid"])
    h, w = m.grid
    nob = cdiv(m.cin, m.po)
    core.files[f"{pre}_m.hex"] = _hex32(lay.tensors["mult"], nob * m.po)
    core.files[f"{pre}_cy.hex"] = "".join(f"{y * gh // h:04x}\n" for y in range(h))
    core.files[f"{pre}_cx.hex"] = "".join(f"{x * gw // w:04x}\n" for x in range(w))
    core.lines.append(f"  ev_pool_axis #(.H({h}), .W({w}), .C({m.cin}), .GH({gh}), .GW({gw}), .P({m.po}), "
                      f".SHIFT({shift}), .LO({lo}), .HI({hi}), .MFILE(\"{pre}_m.hex\"), .CYFILE(\"{pre}_cy.hex\"), "
                      f".CXFILE(\"{pre}_cx.hex\")) u_{m.name} (.clk(clk), .rst(rst), .in_v({ins[0]}_v), "
                      f".in_r({ins[0]}_r), .in_d({ins[0]}_d), .m_tvalid(m_axis_tvalid), "
                      f".m_tready(m_axis_tready), .m_tdata(m_axis_tdata), .m_tlast(m_axis_tlast));")


# Each op the RTL library has a module for (edgevision.ir.ops registry, backend "rtl"); fc has none
# (check_supported refuses it, tests/ir/test_op_registry.py lists the gap).
for _op, _impl in {
    "conv3x3_subm": RtlOp(lambda m, c: _emit_mac(m, c, "ev_subm3x3", True, (_lp("DW", 0),)), rtl_latency_subm3x3,
                          _check_grid, _mac_rom),
    "dwconv3x3_subm": RtlOp(lambda m, c: _emit_mac(m, c, "ev_subm3x3", True, (_lp("DW", 1),)), rtl_latency_dwconv3x3,
                            _check_grid, _dw_rom),
    "conv2x2_s2": RtlOp(lambda m, c: _emit_mac(m, c, "ev_conv2x2s2", True), rtl_latency_conv2x2_s2, _check_grid, _mac_rom),
    "conv1x1": RtlOp(lambda m, c: _emit_mac(m, c, "ev_conv1x1", False), rtl_latency_conv1x1, rom=_mac_rom),
    "add": RtlOp(_emit_add, rtl_latency_add),
    "pool": RtlOp(_emit_pool, rtl_latency_pool, _check_pool),
}.items():
    register("rtl", _op, _impl)


def generate_core(graph: HwGraph, files: dict[str, str]) -> str:
    """The ``edgevision_core`` module text; adds the ROM files to ``files`` (name -> text)."""
    check_supported(graph)
    consumer = {s: m for m in graph.modules for s in m.inputs}
    lines = [
        "// Generated by edgevision.rtl.codegen from the integer IR; do not edit (regenerate with",
        "// `edgevision export rtl`). One module per layer, one FIFO per stream, tokens in raster order.",
        f"// Network: {graph.net.name}; input {graph.net.input.height}x{graph.net.input.width}x{graph.net.input.channels}.",
        "`default_nettype none",
        "module edgevision_core (",
        "    input  wire logic clk, input wire logic rst,",
        "    input  wire logic s_axis_tvalid, output logic s_axis_tready, input wire logic [63:0] s_axis_tdata,",
        "    input  wire logic s_axis_tlast,",
        "    output logic m_axis_tvalid, input wire logic m_axis_tready, output logic [63:0] m_axis_tdata,",
        "    output logic m_axis_tlast,",
        "    output logic err);",
    ]
    depths: dict[str, int] = {}
    for name, s in graph.streams.items():
        if s.kind != "token":
            continue
        w = token_width(s.width)
        depth = rtl_fifo_depth(s.depth)
        depths[name] = depth
        lines.append(f"  // stream {name}: {s.width} channels, FIFO depth {depth}")
        lines.append(f"  logic {name}_iv, {name}_ir, {name}_v, {name}_r;")
        lines.append(f"  logic [{w - 1}:0] {name}_id, {name}_d;")
        lines.append(f"  ev_fifo #(.W({w}), .DEPTH({depth})) fifo_{name} (.clk(clk), .rst(rst), .in_v({name}_iv), "
                     f".in_r({name}_ir), .in_d({name}_id), .out_v({name}_v), .out_r({name}_r), .out_d({name}_d));")
    core = _Core(lines, files, consumer=consumer)
    for m in graph.modules:
        lines.append(f"  // {m.name}: {m.kind}" + (f" (IR layer {m.layer.name}, grid {m.grid[0]}x{m.grid[1]}, "
                                                     f"{m.cin}->{m.cout}, PI={m.pi} PO={m.po})" if m.layer else ""))
        emit = ADAPTERS.get(m.kind) or implementation("rtl", m.kind).emit
        emit(m, core)
    errs = core.errs
    err_expr = " | ".join(errs) if errs else "1'b0"
    lines.append(f"  assign err = {err_expr};")
    lines.append("endmodule")
    lines.append("`default_nettype wire")
    return "\n".join(lines) + "\n"


def write_rtl(graph: HwGraph, out: str | Path, board: str = "") -> dict:
    """Write the RTL directory for ``graph`` (parallelism already set); returns the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    files["edgevision_core.sv"] = generate_core(graph, files)
    for f in LIB_FILES:
        shutil.copyfile(LIBRARY / f, out / f)
    for name, text in files.items():
        write_text_atomic(out / name, text)
    manifest = {
        "top": "edgevision_top", "core": "edgevision_core", "board": board, "network": graph.net.name,
        "sources": [*LIB_FILES, "edgevision_core.sv"],
        "memories": sorted(n for n in files if n.endswith(".hex")),
        "modules": [{"name": m.name, "kind": m.kind, "pi": m.pi, "po": m.po, "grid": list(m.grid),
                     "cin": m.cin, "cout": m.cout} for m in graph.modules],
        "output_words": graph.output_words(),
    }
    write_text_atomic(out / "rtl_manifest.json", json.dumps(manifest, indent=1))
    return manifest

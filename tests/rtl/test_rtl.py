"""RTL backend: generation (no tools), Verilator simulation of a tiny random IR (bit-exact, cycles vs model),
a tiny Yosys synth_xilinx run. The simulator/synthesizer tests skip only when the tool is genuinely absent (the
``rtl`` extra, installed by tools/bootstrap.sh, provides both)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgevision.fpga.hwgraph import build_graph
from edgevision.ir.random import random_network, random_windows
from edgevision.quant.reference import run_network
from edgevision.rtl import sim, synth
from edgevision.rtl.codegen import rom_words, write_rtl


def tiny_net(seed: int = 0):
    """Every op the RTL implements: stem 3x3, 2x2 stride 2, expand 1x1, depthwise 3x3, project 1x1, add, pool."""
    return random_network(np.random.default_rng(seed), height=8, width=10, in_ch=4, widths=(8,), expand=2, grid=(2, 2))


def tiny_graph(net):
    g = build_graph(net)
    par = {"conv1x1": (2, 4), "conv3x3_subm": (2, 2), "dwconv3x3_subm": (1, 4), "conv2x2_s2": (4, 2), "add": (1, 2),
           "pool": (1, 4)}
    g.set_parallelism({m.name: par[m.kind] for m in g.modules if m.kind in par})
    return g


def test_rom_layout_conv1x1():
    net = tiny_net()
    g = tiny_graph(net)
    m = next(m for m in g.modules if m.kind == "conv1x1" and m.cin == 8)
    words, nb = rom_words(m)
    w = m.layer.tensors["weight"]
    ncb, nob = -(-m.cin // m.pi), -(-m.cout // m.po)
    assert words.shape == (ncb * nob, m.pi * m.po) and nb == m.pi * m.po
    cb, ob, po, pi = 1, 2, 3, 1
    assert words[cb * nob + ob, po * m.pi + pi] == w[ob * m.po + po, cb * m.pi + pi]


def test_write_rtl_and_export_cli(tmp_path):
    from edgevision.cli import main
    from edgevision.ir.schema import save_ir

    net = tiny_net()
    man = write_rtl(tiny_graph(net), tmp_path / "rtl")
    assert (tmp_path / "rtl" / "edgevision_core.sv").is_file()
    assert all((tmp_path / "rtl" / f).is_file() for f in man["memories"])
    save_ir(net, tmp_path / "ir")
    assert main(["export", "rtl", "--model", str(tmp_path / "ir"), "--board", "pynq-z2", "--out", str(tmp_path / "x")]) == 0
    for f in ("package_ip.tcl", "vivado_bd.tcl", "ev_lib.sv", "ev_axilite.sv", "rtl_manifest.json"):
        assert (tmp_path / "x" / f).is_file(), f
    bd = (tmp_path / "x" / "vivado_bd.tcl").read_text()
    assert "edgevision:rtl:edgevision_top:1.0" in bd and "ip_repo" in bd and "@" not in bd.replace("@users", "")
    assert json.loads((tmp_path / "x" / "rtl_manifest.json").read_text())["top"] == "edgevision_top"


def test_fc_is_refused(tmp_path):
    from edgevision.errors import BackendError

    net = random_network(np.random.default_rng(1), height=8, width=10, widths=(8,), fc_out=3)
    with pytest.raises(BackendError, match="fc"):
        write_rtl(build_graph(net), tmp_path)


@pytest.mark.skipif(sim.available() is not None, reason=f"Verilator not usable: {sim.available()}")
def test_rtlsim_tiny_bit_exact_and_model(tmp_path):
    from edgevision.rtl.flow import run_rtlsim

    net = tiny_net()
    wins = random_windows(net, 4, 0.3, seed=2) + [(np.zeros((0, 2), np.int32), np.zeros((0, 4), np.int8))]
    rep = run_rtlsim(net, wins, graph=tiny_graph(net), rtl_dir=tmp_path, opt="-O0")  # -O0: quickest build
    assert rep["windows"] == 5 and rep["matched"] == 5
    assert rep["cycles_p50"] > 100
    assert rep["model_error_max"] < 0.15
    # the empty window too: pool of nothing is all zeros
    assert not run_network(net, *wins[-1]).any()


@pytest.mark.skipif(synth.available() is not None, reason=f"Yosys not usable: {synth.available()}")
def test_yosys_tiny_module(tmp_path):
    """synth_xilinx of a FIFO (LUTRAM) + fork: real cells come back, grouped."""
    for f in ("ev_func.svh", "ev_lib.sv"):
        (tmp_path / f).write_text((sim.LIBRARY / f).read_text())
    (tmp_path / "edgevision_core.sv").write_text(
        "module edgevision_core (input wire logic clk, input wire logic rst, input wire logic a_v, output logic a_r,\n"
        "  input wire logic [40:0] a_d, output logic o_v, input wire logic o_r, output logic [40:0] o_d);\n"
        "  logic m_v, m_r; logic [40:0] m_d;\n"
        "  ev_fifo #(.W(41), .DEPTH(16)) f (.clk(clk), .rst(rst), .in_v(a_v), .in_r(a_r), .in_d(a_d), .out_v(m_v),\n"
        "    .out_r(m_r), .out_d(m_d));\n"
        "  ev_fork #(.W(41)) k (.clk(clk), .rst(rst), .in_v(m_v), .in_r(m_r), .in_d(m_d), .a_v(o_v), .a_r(o_r),\n"
        "    .a_d(o_d), .b_v(), .b_r(1'b1), .b_d());\nendmodule\n")
    res = synth.synthesize(tmp_path, "xcup", timeout=600)
    assert res["ff"] >= 41 and res["lutram"] > 0 and res["lut"] > 0
    assert res["dsp"] == 0 and res["bram18k"] == 0


@pytest.mark.slow
@pytest.mark.skipif(sim.available() is not None, reason=f"Verilator not usable: {sim.available()}")
def test_top_axilite_driver_sequence(tmp_path):
    """edgevision_top through the PYNQ driver's register sequence (num_tokens, ap_start, stream, ap_done, cycles)."""
    net = tiny_net()
    g = tiny_graph(net)
    write_rtl(g, tmp_path)
    wins = random_windows(net, 3, 0.3, seed=3)
    core = sim.simulate(g, tmp_path, wins, opt="-O0")
    top = sim.simulate(g, tmp_path, wins, opt="-O0", top="edgevision_top")
    for o, (c, f) in zip(top.outputs, wins):
        assert np.array_equal(o, run_network(net, c, f))
    # the register counts from ap_start (the stream starts a cycle or two later) to the last output word
    assert np.all(np.abs(top.cycles - core.cycles) <= 4), (top.cycles, core.cycles)


def _small_core(d):
    """FIFO -> 1x1 conv (4 -> 4 channels, PI = PO = 2, its ROMs) -> fork -> two FIFOs: a core in the generator's
    one-instance-per-line form, small enough to synthesize flat and per module in a test."""
    for f in ("ev_func.svh", "ev_lib.sv"):
        (d / f).write_text((sim.LIBRARY / f).read_text())
    rng = np.random.default_rng(0)
    (d / "c_w.hex").write_text("".join(f"{int(v):08x}\n" for v in rng.integers(0, 2**32, 4, dtype=np.uint64)))
    (d / "c_b.hex").write_text("".join(f"{int(v) & 0xFFFFFFFF:08x}\n" for v in rng.integers(-500, 500, 4)))
    (d / "c_m.hex").write_text("".join(f"{int(v):08x}\n" for v in rng.integers(1 << 14, 1 << 16, 4)))
    (d / "edgevision_core.sv").write_text(
        "module edgevision_core (input wire logic clk, input wire logic rst, input wire logic a_v, output logic a_r,\n"
        "  input wire logic [64:0] a_d, output logic o_v, input wire logic o_r, output logic [64:0] o_d,\n"
        "  output logic p_v, input wire logic p_r, output logic [64:0] p_d);\n"
        "  logic m_v, m_r, c_v, c_r, x_v, x_r, y_v, y_r;\n"
        "  logic [64:0] m_d, c_d, x_d, y_d;\n"
        "  ev_fifo #(.W(65), .DEPTH(32)) fifo_a (.clk(clk), .rst(rst), .in_v(a_v), .in_r(a_r), .in_d(a_d), .out_v(m_v), .out_r(m_r), .out_d(m_d));\n"
        '  ev_conv1x1 #(.CI(4), .CO(4), .PI(2), .PO(2), .SHIFT(16), .LO(-128), .HI(127), .WFILE("c_w.hex"), .BFILE("c_b.hex"), .MFILE("c_m.hex")) u_c (.clk(clk), .rst(rst), .in_v(m_v), .in_r(m_r), .in_d(m_d), .out_v(c_v), .out_r(c_r), .out_d(c_d));\n'
        "  ev_fork #(.W(65)) u_k (.clk(clk), .rst(rst), .in_v(c_v), .in_r(c_r), .in_d(c_d), .a_v(x_v), .a_r(x_r), .a_d(x_d), .b_v(y_v), .b_r(y_r), .b_d(y_d));\n"
        "  ev_fifo #(.W(65), .DEPTH(32)) fifo_x (.clk(clk), .rst(rst), .in_v(x_v), .in_r(x_r), .in_d(x_d), .out_v(o_v), .out_r(o_r), .out_d(o_d));\n"
        "  ev_fifo #(.W(65), .DEPTH(32)) fifo_y (.clk(clk), .rst(rst), .in_v(y_v), .in_r(y_r), .in_d(y_d), .out_v(p_v), .out_r(p_r), .out_d(p_d));\n"
        "endmodule\n")


def test_per_module_wrappers(tmp_path):
    """Each instance of the core gets a wrapper with its parameters and its ports at the connected signals'
    widths; identical instances (same module, parameters, ROM contents) are one synthesis run."""
    _small_core(tmp_path)
    core = (tmp_path / "edgevision_core.sv").read_text()
    insts = synth.core_instances(core)
    assert [i["inst"] for i in insts] == ["fifo_a", "u_c", "u_k", "fifo_x", "fifo_y"]
    ports = synth.library_ports((tmp_path / "ev_lib.sv").read_text())
    assert ports["ev_fork"]["a_v"] == "output" and ports["ev_add"]["a_v"] == "input"
    top, text = synth.instance_wrapper(insts[1], ports, synth.signal_widths(core))
    assert top == "ev_wrap_u_c" and "input wire logic [64:0] p_in_d" in text and "output logic [64:0] p_out_d" in text
    assert '.WFILE("c_w.hex")' in text
    keys = {synth._rom_key(i, tmp_path) for i in insts}
    assert len(keys) == 3  # the three FIFOs are one netlist


@pytest.mark.slow  # 346 s on the two shared cores at load 8-10 (four Yosys runs)
@pytest.mark.skipif(synth.available() is not None, reason=f"Yosys not usable: {synth.available()}")
def test_per_module_synth_matches_flat(tmp_path):
    """Per-module synthesis sums to the flat netlist: DSP and BRAM equal, LUT and FF within 15 % (per module
    loses only cross-module optimization, an over-count: measured LUT 757 vs 689 flat, FF 473 = 473)."""
    _small_core(tmp_path)
    lines = []
    per = synth.synthesize_modules(tmp_path, "xcup", jobs=2, timeout=600, progress=lines.append)
    flat = synth.synthesize(tmp_path, "xcup", timeout=600)
    assert per["runs"] == 3 and len(per["instances"]) == 5 and len(lines) == 3
    assert per["instances"]["fifo_y"]["same_as"] == "fifo_a"
    assert per["dsp"] == flat["dsp"] > 0 and per["bram18k"] == flat["bram18k"]
    for k in ("lut", "ff"):
        assert abs(per[k] - flat[k]) <= 0.15 * flat[k], (k, per[k], flat[k])


def test_synth_cli_bad_jobs(tmp_path, capsys):
    from edgevision.cli import main
    from edgevision.ir.schema import save_ir

    save_ir(tiny_net(), tmp_path / "ir")
    assert main(["synth", "--model", str(tmp_path / "ir"), "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--jobs" in err
    assert main(["synth", "--model", str(tmp_path / "ir"), "--flatten", "--jobs", "2"]) == 2

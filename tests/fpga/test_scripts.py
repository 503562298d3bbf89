"""Generated project and scripts are consistent with the design, the board table and ir/stream.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from edgevision.fpga.boards import BOARDS
from edgevision.fpga.flow import export_project
from edgevision.ir.random import random_network
from edgevision.ir.stream import REGISTERS, TOP_FUNCTION


@pytest.fixture(scope="module")
def net():
    return random_network(np.random.default_rng(7), height=20, width=24, widths=(8,), fc_out=3)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_scripts_match_design_and_board(net, board, tmp_path):
    info = export_project(net, board, tmp_path, golden=2)
    b = BOARDS[board]
    hls = (tmp_path / "hls.tcl").read_text()
    viv = (tmp_path / "vivado.tcl").read_text()
    top = (tmp_path / "edgevision_top.cpp").read_text()
    mk = (tmp_path / "Makefile").read_text()
    manifest = json.loads((tmp_path / "design.json").read_text())
    assert re.search(r"@[A-Z_]+@", hls + viv + mk) is None  # every placeholder filled
    assert f"set_top {TOP_FUNCTION}" in hls and f"set_part {b.part}" in hls
    assert f"create_clock -period {1000.0 / b.clock_mhz:.3f}" in hls
    assert f"set part {b.part}" in viv and b.board_part in viv
    assert "xilinx.com:ip:axi_dma:7.1" in viv
    assert ("zynq_ultra_ps_e" in viv) and ("processing_system7" in viv)  # both branches present, family selects
    assert f"set family {b.family}" in viv
    for port in ("axis_in", "axis_out", "s_axi_control"):
        assert f"{TOP_FUNCTION}_0/{port}" in viv
    assert f"void {TOP_FUNCTION}(hls::stream<ev_axis_t>& axis_in, hls::stream<ev_axis_t>& axis_out" in top
    assert "#pragma HLS INTERFACE axis port=axis_in" in top and "#pragma HLS INTERFACE axis port=axis_out" in top
    for reg in ("num_tokens", "cycles"):
        assert f"s_axilite port={reg} offset={REGISTERS[reg]:#04x}" in top
        assert manifest["ports"][reg] == REGISTERS[reg]
    assert "#pragma HLS DATAFLOW" in top
    assert manifest["part"] == b.part and manifest["top"] == TOP_FUNCTION
    assert len(manifest["modules"]) == info["modules"]
    cfg = (tmp_path / "config.h").read_text()
    for name, (pi, po) in info["parallelism"].items():
        assert f"constexpr int {name}_PI = {pi}, {name}_PO = {po};" in cfg
    assert (tmp_path / "tb_data" / "input.u64").stat().st_size > 0
    w = (tmp_path / "weights" / "stem.h").read_text()
    assert "Layer 'stem' (conv3x3_subm)" in w and "stem_w[8][3][3][4]" in w


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None or shutil.which("g++") is None, reason="needs make and g++")
def test_generated_makefile_csim_passes(net, tmp_path):
    export_project(net, "kv260", tmp_path, golden=6)
    proc = subprocess.run(["make", "-C", str(tmp_path), "csim"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "PASS: 6 windows, 0 mismatching words" in proc.stdout

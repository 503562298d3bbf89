"""Vivado tcl for the RTL accelerator: IP packaging (``fpga/rtl/package_ip.tcl``) and the block design, which is
the HLS flow's ``fpga/templates/vivado.tcl`` pointed at the packaged RTL IP (one block-design script for both)."""

from __future__ import annotations

from pathlib import Path

from edgevision.atomic import write_text_atomic
from edgevision.fpga.boards import get_board
from edgevision.fpga.hwgraph import HwGraph
from edgevision.fpga.scripts import TEMPLATE_DIR, render
from edgevision.ir.stream import REGISTERS, TOP_FUNCTION
from edgevision.rtl.codegen import LIBRARY


def rtl_script_values(graph: HwGraph, board: str) -> dict[str, str]:
    b = get_board(board)
    return {
        "TOP": TOP_FUNCTION, "NETWORK": graph.net.name, "BOARD": b.name, "PART": b.part, "BOARD_PART": b.board_part,
        "FAMILY": b.family, "CLOCK_MHZ": f"{b.clock_mhz:g}", "CLOCK_HZ": f"{int(round(b.clock_mhz * 1e6))}",
        "REG_CTRL": f"{REGISTERS['CTRL']:#04x}", "REG_NUM_TOKENS": f"{REGISTERS['num_tokens']:#04x}",
        "REG_CYCLES": f"{REGISTERS['cycles']:#04x}",
    }


def block_design_tcl(values: dict[str, str]) -> str:
    """The HLS block design with the RTL IP (``edgevision:rtl``, repository ``ip_repo``) in place of the HLS IP."""
    text = render((TEMPLATE_DIR / "vivado.tcl").read_text(), values)
    text = text.replace("set_property ip_repo_paths [list prj/sol/impl/ip]", "set_property ip_repo_paths [list ip_repo]")
    text = text.replace(f"edgevision:hls:{values['TOP']}:1.0", f"edgevision:rtl:{values['TOP']}:1.0")
    text = text.replace("# Usage (after `vitis_hls -f hls.tcl -tclargs export`): vivado -mode batch -source vivado.tcl",
                        "# Usage (after `vivado -mode batch -source package_ip.tcl`): vivado -mode batch -source vivado_bd.tcl")
    return text


def write_rtl_scripts(graph: HwGraph, out: str | Path, board: str) -> list[str]:
    out = Path(out)
    values = rtl_script_values(graph, board)
    write_text_atomic(out / "package_ip.tcl", render((LIBRARY / "package_ip.tcl").read_text(), values))
    write_text_atomic(out / "vivado_bd.tcl", block_design_tcl(values))
    return ["package_ip.tcl", "vivado_bd.tcl"]

"""Vitis HLS / Vivado tcl and the project Makefile, filled from ``fpga/templates`` for one board."""

from __future__ import annotations

from pathlib import Path

from edgevision.atomic import write_text_atomic
from edgevision.fpga.ap_types import ap_types_dir
from edgevision.fpga.boards import get_board
from edgevision.fpga.hwgraph import HwGraph
from edgevision.ir.stream import REGISTERS, TOP_FUNCTION
from edgevision.resources import shipped

TEMPLATE_DIR = shipped("fpga/templates")
SCRIPTS = {"hls.tcl": "hls.tcl", "vivado.tcl": "vivado.tcl", "Makefile": "Makefile.project"}


def script_values(graph: HwGraph, board: str) -> dict[str, str]:
    b = get_board(board)
    return {
        "TOP": TOP_FUNCTION, "NETWORK": graph.net.name, "BOARD": b.name, "PART": b.part, "BOARD_PART": b.board_part,
        "FAMILY": b.family, "CLOCK_MHZ": f"{b.clock_mhz:g}", "PERIOD_NS": f"{1000.0 / b.clock_mhz:.3f}",
        "REG_CTRL": f"{REGISTERS['CTRL']:#04x}", "REG_NUM_TOKENS": f"{REGISTERS['num_tokens']:#04x}",
        "REG_CYCLES": f"{REGISTERS['cycles']:#04x}", "AP_TYPES": str(ap_types_dir()),
    }


def render(template: str, values: dict[str, str]) -> str:
    for key, val in values.items():
        template = template.replace(f"@{key}@", val)
    return template


def write_scripts(graph: HwGraph, out: Path, board: str) -> None:
    values = script_values(graph, board)
    for target, name in SCRIPTS.items():
        write_text_atomic(out / target, render((TEMPLATE_DIR / name).read_text(), values))

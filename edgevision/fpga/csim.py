"""C simulation: build a generated project with g++ into a content-hashed shared library, load it with ctypes
and run batches of windows through ``edgevision_top``, returning output vectors and per-module cycle counts."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgevision.cache import cache_dir
from edgevision.errors import BackendError
from edgevision.fpga.ap_types import ap_types_dir
from edgevision.fpga.codegen import write_project
from edgevision.fpga.hwgraph import HwGraph
from edgevision.ir.stream import pack_tokens, unpack_output

CXXFLAGS = ("-std=c++17", "-O2", "-Wno-unknown-pragmas", "-fPIC", "-shared")
SOURCES = ("csim_entry.cpp",)  # includes edgevision_top.cpp


def build_library(project: str | Path) -> Path:
    """Compile ``project`` (written by :func:`edgevision.fpga.codegen.write_project`) once per content hash."""
    project = Path(project)
    cxx = shutil.which(os.environ.get("CXX", "g++"))
    if cxx is None:
        raise BackendError("C simulation needs a C++17 compiler: install g++ (or set CXX)")
    files = sorted([*project.glob("*.h"), *project.glob("weights/*.h"), *project.glob("*.cpp")])
    h = hashlib.sha256(" ".join(CXXFLAGS).encode())
    for f in files:
        h.update(f.relative_to(project).as_posix().encode())
        h.update(f.read_bytes())
    lib = cache_dir("csim") / f"libedgevision_{h.hexdigest()[:20]}.so"
    if lib.is_file():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    tmp = lib.with_suffix(f".{os.getpid()}.tmp")
    cmd = [cxx, *CXXFLAGS, f"-I{project}", f"-I{ap_types_dir()}", *(str(project / s) for s in SOURCES), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BackendError(f"{project}: g++ failed ({' '.join(cmd[:4])} ...):\n{proc.stderr[-4000:]}")
    os.replace(tmp, lib)
    return lib


@dataclass
class CsimResult:
    outputs: list[np.ndarray]  # per window: int8 vector or int32 logits
    cycles: np.ndarray  # [windows, modules] pipelined iterations per module


class CsimDesign:
    """A compiled design: ``run(windows)`` executes a batch in one call into the library."""

    def __init__(self, graph: HwGraph, library: str | Path) -> None:
        self.graph = graph
        self.lib = ctypes.CDLL(str(library))
        self.lib.ev_run.restype = ctypes.c_int
        self.n_modules = int(self.lib.ev_num_modules())
        self.out_words = int(self.lib.ev_output_words())
        if self.n_modules != len(graph.modules) or self.out_words != graph.output_words():
            raise BackendError(f"{library}: library does not match the design (modules {self.n_modules}, "
                               f"output words {self.out_words}); regenerate the project")

    def run(self, windows: list[tuple[np.ndarray, np.ndarray]]) -> CsimResult:
        """Run windows (int32 coords [N, 2] raster order, int8 feats [N, C]) through the design."""
        packed = [pack_tokens(np.asarray(c), np.asarray(f, np.int8)) for c, f in windows]
        return self.run_words(packed, [len(c) for c, _ in windows])

    def run_words(self, packed: list[np.ndarray], num_tokens: list[int]) -> CsimResult:
        """Run raw AXI-Stream input words (one array per window, as :func:`pack_tokens` makes them)."""
        n = len(packed)
        offsets = np.zeros(n + 1, np.int64)
        offsets[1:] = np.cumsum([p.size for p in packed])
        words = np.ascontiguousarray(np.concatenate(packed) if packed else np.zeros(0, np.uint64), np.uint64)
        ntok = np.asarray(num_tokens, np.uint32)
        out = np.zeros((n, self.out_words), np.uint64)
        cycles = np.zeros((n, self.n_modules), np.uint64)
        err = ctypes.create_string_buffer(512)
        p = lambda a, t: a.ctypes.data_as(ctypes.POINTER(t))  # noqa: E731
        rc = self.lib.ev_run(p(words, ctypes.c_uint64), p(offsets, ctypes.c_int64), p(ntok, ctypes.c_uint32),
                             ctypes.c_int(n), p(out, ctypes.c_uint64), p(cycles, ctypes.c_uint64), err, len(err))
        if rc != 0:
            raise BackendError(f"C simulation failed: {err.value.decode(errors='replace')}")
        dtype = np.int8 if self.graph.output_kind == "vec" else np.int32
        outputs = [unpack_output(out[k], self.graph.output_length, dtype) for k in range(n)]
        return CsimResult(outputs, cycles.astype(np.int64))


def compile_design(graph: HwGraph, project: str | Path, board: str = "zcu102") -> CsimDesign:
    """Write ``graph`` as a project into ``project`` and return the loaded C-simulation library."""
    write_project(graph, project, board)
    return CsimDesign(graph, build_library(project))

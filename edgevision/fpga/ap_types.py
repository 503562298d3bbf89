"""Xilinx's open-source ap_types headers (``ap_int.h``, ``hls_stream.h``): the one include the generated C++ needs
from outside the project. Shared by the C simulation build and the Vitis HLS scripts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgevision.errors import BackendError


def ap_types_dir() -> Path:
    """The headers shipped in the hls4ml wheel at ``<hls4ml>/templates/vivado/ap_types``; located through
    importlib, nothing is downloaded."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("C simulation needs Xilinx's ap_types headers from the hls4ml wheel: pip install hls4ml")
    d = Path(list(spec.submodule_search_locations)[0]) / "templates" / "vivado" / "ap_types"
    if not (d / "ap_int.h").is_file():
        raise BackendError(f"{d}: ap_int.h not found in the installed hls4ml; reinstall hls4ml")
    return d

"""Build and load ``window_forward.cpp`` (the C++ step loop of :class:`~edgevision.nn.infer.WindowBackbone`)
with ``torch.utils.cpp_extension``, once per source and torch version, into ``cache_dir("torch_ext")``.

Why: the one-window forward is ~40 small PyTorch ops, and from Python each pays an argument parse and a
dispatch whose code is evicted while the loop thread sleeps between windows. The same ops issued from C++
took the cold forward from 1.03 to 0.89 ms p50 (1.74 to 1.39 ms p99) and the warm one from 0.44 to 0.34 ms,
interleaved in one process. Needs g++ and ninja; without them the Python loop runs (same results), with a
warning saying why.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import warnings
from pathlib import Path
from typing import Any

from edgevision.cache import cache_dir

SOURCE = Path(__file__).with_name("window_forward.cpp")


@functools.cache
def load() -> Any | None:
    """The compiled extension module (its ``WindowPlan`` class), or None when it cannot be built here."""
    import torch
    from torch.utils.cpp_extension import load as load_extension

    digest = hashlib.sha256(SOURCE.read_bytes() + torch.__version__.encode()).hexdigest()[:12]
    name = f"edgevision_window_forward_{digest}"
    build = cache_dir("torch_ext") / name
    try:
        build.mkdir(parents=True, exist_ok=True)
        if not any(build.glob(f"{name}*.so")):
            print(f"edgevision: compiling the C++ one-window forward into {build} (once, about 30 s)", file=sys.stderr)
        return load_extension(name=name, sources=[str(SOURCE)], build_directory=str(build), extra_cflags=["-O2"])
    except Exception as exc:  # no compiler, no ninja, no headers: the Python step loop serves instead
        warnings.warn(f"edgevision: the C++ one-window forward could not be built in {build} "
                      f"({type(exc).__name__}: {str(exc)[-400:]}); using the Python step loop (same results, "
                      "slower). Install g++ and ninja to build it; delete that folder if a build was interrupted.",
                      RuntimeWarning, stacklevel=2)
        return None

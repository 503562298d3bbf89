"""``edgevision flash``: load the overlay and run a known-answer test (random tokens in, the NumPy reference's
output expected bit for bit) through the driver, on a board or on the simulated overlay (``--board sim``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BackendError, ConfigError

BOARDS = ("pynq-z2", "zcu102", "zcu104", "kv260", "ultra96", "sim")


def known_answer_test(driver: Any, net: Any, runs: int = 3, density: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Run ``runs`` random windows (plus an empty one) through ``driver``; BackendError on any mismatch."""
    from edgevision.ir.random import random_tokens
    from edgevision.quant.reference import run_network

    rng = np.random.default_rng(seed)
    spec = net.input
    cycles, seconds = [], []
    cases = [random_tokens(rng, spec.height, spec.width, spec.channels, density) for _ in range(runs)]
    cases.append((np.zeros((0, 2), np.int32), np.zeros((0, spec.channels), np.int8)))
    for i, (coords, feats) in enumerate(cases):
        got = driver.run(coords, feats)
        want = run_network(net, coords, feats)
        if not np.array_equal(got.output, want):
            bad = int(np.flatnonzero(got.output != want)[0])
            raise BackendError(f"self-test failed on window {i} ({len(coords)} tokens): output[{bad}] is "
                               f"{int(got.output[bad])}, the reference says {int(want[bad])}; the bitstream does not match the IR")
        cycles.append(got.cycles)
        seconds.append(got.seconds)
    return {"self_test": "pass", "windows": len(cases), "cycles_max": int(max(cycles)),
            "call_ms_median": float(np.median(seconds) * 1e3)}


def flash(board: str, bitstream: str | None, model_dir: str | Path, timeout_s: float = 2.0) -> dict[str, Any]:
    """Load ``bitstream`` on ``board`` (or the simulated overlay for ``sim``) and self-test it against the IR."""
    from edgevision.ir.schema import load_ir
    from edgevision.runtime.backends import csim_compute
    from edgevision.runtime.pynq_driver import AcceleratorDriver, open_board_overlay, stream_spec
    from edgevision.runtime.sim_overlay import SimOverlay

    if board not in BOARDS:
        raise ConfigError(f"unknown board {board!r}; choose one of {list(BOARDS)}")
    net = load_ir(model_dir)
    spec = stream_spec(net)
    if board == "sim":
        compute, what = csim_compute(net)
        overlay = SimOverlay(compute, spec.out_dtype)
        allocate = overlay.allocate
    else:
        if bitstream is None:
            raise ConfigError("--bitstream X.bit is required on a board (X.hwh beside it)")
        overlay, allocate = open_board_overlay(bitstream)
        what = "board"
    result = known_answer_test(AcceleratorDriver(overlay, spec, allocate, timeout_s), net)
    return {"board": board, "bitstream": bitstream, "ir": str(model_dir), "accelerator": what, **result}

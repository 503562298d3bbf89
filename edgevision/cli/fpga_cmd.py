"""FPGA commands: ``export hls``, ``csim``, ``estimate``."""

from __future__ import annotations

import argparse
from typing import Any

from edgevision.fpga.boards import BOARDS

BOARD_NAMES = tuple(BOARDS)


def _check(args: argparse.Namespace) -> None:
    """Refuse out-of-range --windows, --density and --fraction (ConfigError: one line, exit 2)."""
    import math

    from edgevision.errors import ConfigError

    if args.windows < 1:
        raise ConfigError(f"--windows must be >= 1, got {args.windows}")
    for name, value in (("--density", args.density), ("--fraction", args.fraction)):
        if not (math.isfinite(value) and 0 < value <= 1):
            raise ConfigError(f"{name} must be in (0, 1], got {value}")


def _windows(args: argparse.Namespace, net: Any) -> list | None:
    _check(args)
    if not getattr(args, "data", None):
        return None
    from edgevision.fpga.windows import eye_windows

    return eye_windows(net, args.data, args.windows, args.split)


def _common(p: argparse.ArgumentParser, data_required: bool = False) -> None:
    p.add_argument("--model", required=True, help="IR directory (network.json + tensors.npz from `edgevision quantize`)")
    p.add_argument("--data", required=data_required, help="3ET+-layout dataset root: token counts from real windows")
    p.add_argument("--split", default="test", help="dataset split to slice windows from (default test: held-out)")
    p.add_argument("--windows", type=int, default=200, help="number of windows (default 200; csim 1000)")
    p.add_argument("--density", type=float, default=0.05, help="site density assumed without --data (default 0.05)")
    p.add_argument("--fraction", type=float, default=0.8, help="fraction of the board's DSP/BRAM/LUT the search may use")


def _export(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.fpga.flow import export_project
    from edgevision.ir.schema import load_ir

    from edgevision.errors import ConfigError

    net = load_ir(args.model)
    windows = _windows(args, net)
    try:
        return export_project(net, args.board, args.out, windows, args.density, args.fraction)
    except OSError as exc:
        raise ConfigError(f"--out {args.out}: cannot write the project ({exc.strerror or exc})") from None


def _csim(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.fpga.flow import run_csim
    from edgevision.ir.random import random_windows
    from edgevision.ir.schema import load_ir

    net = load_ir(args.model)
    wins = _windows(args, net) or random_windows(net, args.windows, args.density)
    return run_csim(net, wins, args.board, args.project, args.fraction)


def _estimate(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.fpga.flow import estimate_report, plan
    from edgevision.ir.schema import load_ir

    net = load_ir(args.model)
    wins = _windows(args, net)
    graph, est = plan(net, args.board, wins, args.density, args.fraction)
    return estimate_report(graph, est, wins, args.density)


def register(cli) -> None:
    """Add this module's subcommands to ``cli``."""
    p = cli.command("hls", _export, "generate the HLS accelerator project (top, weights, testbench, tcl, Makefile)",
                    group="export")
    _common(p)
    p.add_argument("--board", required=True, choices=BOARD_NAMES, help="target board (sets part, clock, budget)")
    p.add_argument("--out", required=True, help="project directory to write")

    p = cli.command("csim", _csim, "C-simulate the generated accelerator on windows, bit-exact vs the integer reference")
    _common(p)
    p.set_defaults(windows=1000)
    p.add_argument("--board", default="zcu102", choices=BOARD_NAMES, help="board whose parallelism is simulated")
    p.add_argument("--project", default=None, help="keep the generated project in this directory")

    p = cli.command("estimate", _estimate, "latency/resource/energy model with parallelism search for a board")
    _common(p)
    p.add_argument("--board", required=True, choices=BOARD_NAMES, help="target board")

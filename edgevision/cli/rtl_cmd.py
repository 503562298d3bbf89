"""RTL commands: ``export rtl``, ``rtlsim`` (Verilator), ``synth`` (Yosys synth_xilinx)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgevision.cli.fpga_cmd import BOARD_NAMES, _common, _windows


def _export(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.ir.schema import load_ir
    from edgevision.rtl.flow import export_rtl

    net = load_ir(args.model)
    return export_rtl(net, args.board, args.out, _windows(args, net), args.density, args.fraction)


def _rtlsim(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.ir.random import random_windows
    from edgevision.ir.schema import load_ir
    from edgevision.rtl.flow import run_rtlsim

    net = load_ir(args.model)
    wins = _windows(args, net) or random_windows(net, args.windows, args.density)
    return run_rtlsim(net, wins, args.board, args.rtl_dir, args.fraction)


def _synth(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.errors import BackendError
    from edgevision.ir.schema import load_ir
    from edgevision.rtl.synth import run_synth

    if args.flatten and args.jobs is not None:
        raise BackendError("synth: --jobs is for per-module synthesis; --flatten runs one Yosys on the whole design")
    net = load_ir(args.model)
    return run_synth(net, args.board, args.family, _windows(args, net), args.density, args.fraction, args.rtl_dir,
                     args.timeout, jobs=1 if args.jobs is None else args.jobs, flatten=args.flatten,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))


def register(cli) -> None:
    """Add this module's subcommands to ``cli``."""
    p = cli.command("rtl", _export, "generate the SystemVerilog accelerator (RTL, weight ROMs, Vivado IP/block-design tcl)",
                    group="export")
    _common(p)
    p.add_argument("--board", default="zcu102", choices=BOARD_NAMES, help="board whose parallelism is generated")
    p.add_argument("--out", required=True, help="RTL directory to write")

    p = cli.command("rtlsim", _rtlsim, "Verilator-simulate the RTL on windows: bit-exact vs the integer reference, "
                    "cycles per window vs the latency model")
    _common(p)
    p.add_argument("--board", default="zcu102", choices=BOARD_NAMES, help="board whose parallelism and clock are used")
    p.add_argument("--rtl-dir", default=None, help="keep the generated RTL in this directory")

    p = cli.command("synth", _synth, "Yosys synth_xilinx of the RTL (per module instance, or --flatten): LUT/FF/DSP/BRAM from the netlist vs the resource model")
    _common(p)
    p.add_argument("--board", default="zcu102", choices=BOARD_NAMES, help="board (parallelism, capacity)")
    p.add_argument("--family", default=None, choices=("xcup", "xc7"),
                   help="synth_xilinx family (default: from the board, xcup for Zynq UltraScale+, xc7 for Zynq-7000)")
    p.add_argument("--rtl-dir", default=None, help="keep the generated RTL and the Yosys log in this directory")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds one Yosys run may take (flat: the whole design; per module: each module; default 3600)")
    p.add_argument("--jobs", type=int, default=None,
                   help="per-module synthesis (the default): Yosys processes run at a time (default 1)")
    p.add_argument("--flatten", action="store_true",
                   help="one synth_xilinx -flatten run of the whole core instead of one run per module instance")

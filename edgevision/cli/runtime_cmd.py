"""Runtime commands: ``flash`` (load + self-test an overlay), ``track`` (the live tracker), ``demo``, ``bench loop``."""

from __future__ import annotations

import argparse
from typing import Any


def _flash(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.runtime.selftest import flash
    from edgevision.runtime.session import resolve

    return flash(args.board, args.bitstream, resolve(args.model))


def _track(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.runtime.session import track

    return track(args.source, args.backend, args.checkpoint, args.model, args.headless, args.out, args.seconds,
                 fast=args.fast, palette=args.palette, bitstream=args.bitstream)


def _demo(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.runtime.session import demo

    return demo(args.out, args.seconds, args.backend)


def _bench_loop(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.bench.loop import bench_loop

    return bench_loop(args.seconds, args.checkpoint, args.out, model_dir=args.model)


def register(cli) -> None:
    """Add ``flash``, ``track``, ``demo`` and ``bench loop``."""
    p = cli.command("flash", _flash, "load a bitstream on a PYNQ board and run a known-answer self-test")
    p.add_argument("--board", required=True, help="pynq-z2, zcu102, zcu104, kv260, ultra96, or sim (simulated overlay)")
    p.add_argument("--bitstream", help="X.bit with X.hwh beside it")
    p.add_argument("--model", default="models/eye_small_int8", help="the IR directory the bitstream was built from")

    p = cli.command("track", _track, "track the pupil in an event stream in real time (under overload a live source "
                    "drops the oldest waiting 10 ms window, counted as 'dropped'; --fast replays lossless)")
    p.add_argument("--source", default="synthetic", help="synthetic | file:PATH | camera:N | video:PATH | dv")
    p.add_argument("--backend", default="torch", help="torch | torch-int | int | csim | engine | pynq")
    p.add_argument("--checkpoint", default=None, help="eye-tracker checkpoint (default models/eye_small.safetensors)")
    p.add_argument("--model", default=None, help="quantized IR directory for torch-int/int/csim/engine/pynq (default models/eye_small_int8)")
    p.add_argument("--bitstream", default=None, help="bitstream for --backend pynq")
    p.add_argument("--headless", action="store_true", help="no window: write video, predictions.jsonl and summary.json to --out")
    p.add_argument("--out", default=None, help="output directory")
    p.add_argument("--seconds", type=float, default=None, help="stop after this much sensor time")
    p.add_argument("--fast", action="store_true", help="replay as fast as possible (lossless) instead of in real time")
    p.add_argument("--palette", default="metavision", help="metavision | dv | gray")

    p = cli.command("demo", _demo, "eye-tracking demo: synthetic camera -> int8 model on the simulated accelerator -> annotated video")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of camera time (default 10)")
    p.add_argument("--backend", default="csim", choices=("csim", "int"), help="csim (default) or int")

    p = cli.command("loop", _bench_loop, "tracker loop latency (torch backend) and a 10x event burst", group="bench")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of steady input (default 3)")
    p.add_argument("--checkpoint", default=None, help="checkpoint (default: shipped, else a random-initialised model)")
    p.add_argument("--model", default=None, help="int8 IR of the checkpoint for the engine comparison (default models/eye_small_int8)")
    p.add_argument("--out", default=None, help="write the results JSON here")

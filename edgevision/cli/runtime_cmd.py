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
                 fast=args.fast, palette=args.palette, bitstream=args.bitstream, profile=args.profile, roi=args.roi,
                 scale=args.scale, fit=args.fit, serve=args.serve)


def _roi(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H (4 integers, camera pixels), got {text!r}") from None
    if min(x, y) < 0 or min(w, h) < 1:
        raise argparse.ArgumentTypeError(f"X,Y must be >= 0 and W,H >= 1, got {text!r}")
    return x, y, w, h


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port number, got {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {v}")
    return v


def _scale(text: str) -> float:
    try:
        v = float(text.split("/")[0]) / float(text.split("/")[1]) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number such as 0.5, 2 or 2/3, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


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
                    "drops the oldest waiting window (the model's slice: 10 ms for the shipped model), counted as 'dropped'; "
                    "--fast replays lossless)")
    p.add_argument("--source", default="synthetic", help="synthetic | file:PATH | tail:PATH (a .raw/.aedat4 still being "
                   "written) | camera:N (webcam through the DVS emulator) | video:PATH | dv (iniVation camera) | "
                   "dv:CAMERA_NAME | dv:tcp://HOST:PORT (DV network stream)")
    p.add_argument("--backend", default="torch", help="torch | torch-int | int | csim | engine | pynq")
    p.add_argument("--checkpoint", default=None, help="float eye-tracker checkpoint: the torch backend's model (default "
                   "models/eye_small.safetensors); with an IR backend its GRU head replaces the IR's")
    p.add_argument("--model", default=None, help="quantized IR directory for torch-int/int/csim/engine/pynq: front end, "
                   "int8 network and GRU head, no checkpoint needed (default models/eye_small_int8)")
    p.add_argument("--bitstream", default=None, help="bitstream for --backend pynq")
    p.add_argument("--headless", action="store_true", help="no window: write video, predictions.jsonl and summary.json to --out")
    p.add_argument("--out", default=None, help="output directory")
    p.add_argument("--seconds", type=float, default=None, help="stop after this much sensor time")
    p.add_argument("--fast", action="store_true", help="replay as fast as possible (lossless) instead of in real time")
    p.add_argument("--palette", default="metavision", help="metavision | dv | gray")
    p.add_argument("--serve", type=_port, default=None, metavar="PORT",
                   help="live view in a browser at http://127.0.0.1:PORT/ (MJPEG; no GUI needed; 0 = any free port)")
    p.add_argument("--profile", default=None, help="camera profile mapping the sensor onto the model's 640x480: davis346, "
                   "dvxplorer, evk4, gen41, genx320 or a YAML file (sensor, roi, scale, fit); a sensor of another "
                   "size without one is fitted whole")
    p.add_argument("--roi", type=_roi, default=None, metavar="X,Y,W,H", help="region of interest in camera pixels")
    p.add_argument("--scale", type=_scale, default=None, help="camera px -> model px factor (2, 0.5, 2/3); "
                   "overrides --fit, the ROI shrinks (centred) to what fits")
    p.add_argument("--fit", choices=("fit", "crop", "stretch"), default=None,
                   help="place the ROI: fit (whole, aspect kept, default), crop (cover, centre crop), stretch")

    p = cli.command("demo", _demo, "eye-tracking demo: synthetic camera, paced in real time -> shipped int8 model -> annotated video")
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of camera time (default 10)")
    p.add_argument("--backend", default="engine", choices=("engine", "int", "csim"),  # session.DEMO_BACKENDS
                   help="engine (default; paced in real time, drops counted), int (paced) or csim (the C-simulated "
                        "accelerator: slower than real time, so every window is replayed losslessly)")

    p = cli.command("loop", _bench_loop, "tracker loop latency per stage (torch and engine backends), steady, under a 10x event burst and a noise flood", group="bench")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds of steady input (default 3)")
    p.add_argument("--checkpoint", default=None, help="checkpoint (default: shipped, else a random-initialised model)")
    p.add_argument("--model", default=None, help="int8 IR of the checkpoint for the engine comparison (default models/eye_small_int8)")
    p.add_argument("--out", default=None, help="write the results JSON here")

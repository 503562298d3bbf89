#!/usr/bin/env python3
"""Board app: live eye tracking on a PYNQ board with a USB event camera.

The sparse CNN runs on the FPGA overlay (``edgevision_top`` behind an AXI DMA), the GRU and head on the ARM
host. Steps: load the overlay once and self-test it against the IR (known-answer run), then track the camera
stream until Ctrl-C or ``--seconds``, writing predictions (and optionally an annotated video) to ``--out``.

    python3 host/eye_tracker_app.py --bitstream eye_small.bit --model eye_small_int8 --source dv --out runs/board \
        --serve 8090
    python3 host/eye_tracker_app.py --board sim --source file:datasets/samples/eye-tiny/test/3_1/3_1.h5  # no board

Needs numpy (+ pynq on the board), no torch: the IR folder carries the front end, the int8 network and the
GRU head (``head.npz``, NumPy: edgevision.runtime.head); ``--checkpoint`` swaps in a checkpoint's GRU head.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bitstream", default=None, help="X.bit with X.hwh beside it (not with --board sim)")
    ap.add_argument("--checkpoint", default=None, help="eye-tracker checkpoint whose GRU head replaces the IR's")
    ap.add_argument("--model", default="models/eye_small_int8", help="the IR the bitstream was built from (with its GRU head)")
    ap.add_argument("--source", default="dv", help="dv (iniVation via dv-processing), camera:N, file:PATH, synthetic")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this much camera time")
    ap.add_argument("--out", default="runs/board", help="predictions.jsonl, summary.json (and track.mp4 with --video)")
    ap.add_argument("--fast", action="store_true", help="replay a file as fast as possible (lossless), not in real time")
    ap.add_argument("--video", action="store_true", help="also write the annotated video (costs CPU on the board)")
    ap.add_argument("--profile", default=None, help="camera profile (davis346, dvxplorer, evk4, gen41, genx320 or a "
                    "YAML file); a sensor that is not 640x480 is fitted whole without one")
    ap.add_argument("--serve", type=int, default=None, metavar="PORT",
                    help="live view in a browser at http://127.0.0.1:PORT/ (tunnel it: ssh -L PORT:127.0.0.1:PORT BOARD)")
    ap.add_argument("--board", default="zcu102",
                    help="board name for the self-test report; 'sim': the simulated overlay stands in for the board "
                         "(C-simulated design if hls4ml's headers and g++ are there, else the NumPy reference)")
    args = ap.parse_args(argv)

    from edgevision.errors import EdgevisionError
    from edgevision.runtime.backends import open_accelerator
    from edgevision.runtime.selftest import known_answer_test
    from edgevision.runtime.sensor_map import resolve_sensor_map
    from edgevision.runtime.session import load_model, run_tracker
    from edgevision.runtime.sources import open_source

    server = None
    try:
        model, front, net = load_model("pynq", args.checkpoint, args.model)  # IR + GRU head, NumPy only (no torch)
        backend = open_accelerator(args.board, net, args.bitstream)  # loads the bitstream once
        print(json.dumps({"board": args.board, "accelerator": backend.compute_name,
                          **known_answer_test(backend.driver, net)}), file=sys.stderr)
        source = open_source(args.source, seconds=args.seconds, realtime=not args.fast, window_us=front.slice_us)
        smap = resolve_sensor_map(source.sensor_size, front.sensor_size, args.profile)
        if args.serve is not None:
            from edgevision.runtime.live_view import LiveServer

            server = LiveServer(args.serve)
            print(f"live view: {server.url} (from another machine: ssh -L {server.port}:127.0.0.1:{server.port} BOARD)",
                  file=sys.stderr)
        summary = run_tracker(backend, model, front, source, Path(args.out), live=False, video=args.video,
                              sensor_map=smap, views=[server] if server else None)
    except EdgevisionError as exc:
        print(f"eye_tracker_app: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if server is not None:
            server.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

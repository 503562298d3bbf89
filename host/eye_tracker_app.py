#!/usr/bin/env python3
"""Board app: live eye tracking on a PYNQ board with a USB event camera.

The sparse CNN runs on the FPGA overlay (``edgevision_top`` behind an AXI DMA), the GRU and head on the ARM
host. Steps: load the overlay once and self-test it against the IR (known-answer run), then track the camera
stream until Ctrl-C or ``--seconds``, writing predictions (and optionally an annotated video) to ``--out``.

    python3 host/eye_tracker_app.py --bitstream eye_small.bit --checkpoint eye_small.safetensors \
        --model eye_small_int8 --source dv --out runs/board
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bitstream", default=None, help="X.bit with X.hwh beside it (not with --board sim)")
    ap.add_argument("--checkpoint", default="models/eye_small.safetensors", help="eye-tracker checkpoint (GRU + head)")
    ap.add_argument("--model", default="models/eye_small_int8", help="the IR the bitstream was built from")
    ap.add_argument("--source", default="dv", help="dv (iniVation via dv-processing), camera:N, file:PATH, synthetic")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this much camera time")
    ap.add_argument("--out", default="runs/board", help="predictions.jsonl, summary.json (and track.mp4 with --video)")
    ap.add_argument("--fast", action="store_true", help="replay a file as fast as possible (lossless), not in real time")
    ap.add_argument("--video", action="store_true", help="also write the annotated video (costs CPU on the board)")
    ap.add_argument("--board", default="zcu102",
                    help="board name for the self-test report; 'sim': the simulated overlay stands in for the board "
                         "(C-simulated design if hls4ml's headers and g++ are there, else the NumPy reference)")
    args = ap.parse_args(argv)

    from edgevision.errors import ConfigError, EdgevisionError
    from edgevision.ir.schema import load_ir
    from edgevision.runtime.backends import DriverBackend
    from edgevision.runtime.host_model import load_host_model
    from edgevision.runtime.pynq_driver import open_board_overlay, stream_spec
    from edgevision.runtime.selftest import known_answer_test
    from edgevision.runtime.session import resolve, run_tracker
    from edgevision.runtime.sources import open_source

    try:
        if args.board == "sim":
            from edgevision.runtime.backends import csim_compute
            from edgevision.runtime.sim_overlay import SimOverlay

            net = load_ir(resolve(args.model))
            compute, _ = csim_compute(net)
            overlay = SimOverlay(compute, stream_spec(net).out_dtype)
            allocate = overlay.allocate
        elif args.bitstream is None:
            raise ConfigError("--bitstream X.bit is required on a board (X.hwh beside it); --board sim runs without one")
        else:
            overlay, allocate = open_board_overlay(args.bitstream)  # loads the bitstream once
        model = load_host_model(resolve(args.checkpoint))  # config + GRU/head weights, NumPy only (no torch)
        cfg = model.cfg
        net = load_ir(resolve(args.model))
        backend = DriverBackend("csim" if args.board == "sim" else "pynq", net, cfg.input.input_clip, overlay, allocate, compute_name=args.board)
        print(json.dumps({"board": args.board, **known_answer_test(backend.driver, net)}), file=sys.stderr)
        source = open_source(args.source, seconds=args.seconds, realtime=not args.fast)
        summary = run_tracker(backend, model, cfg, source, Path(args.out), live=False, video=args.video)
    except EdgevisionError as exc:
        print(f"eye_tracker_app: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

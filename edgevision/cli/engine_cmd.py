"""``edgevision engine check`` (compiled engine vs the integer reference on an IR) and ``edgevision bench sparse``."""

from __future__ import annotations

import argparse
from typing import Any

from edgevision.errors import ConfigError


def _check(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.engine.check import check_ir

    if args.windows < 1 or not 0.0 <= args.density <= 1.0:
        raise ConfigError("--windows must be >= 1 and --density in [0, 1]")
    return check_ir(args.ir, windows=args.windows, density=args.density, seed=args.seed)


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import json

    from edgevision.atomic import write_text_atomic
    from edgevision.bench.sparse import run_gpu_benchmark, run_sparse_benchmark

    if args.windows < 1 or args.repeats < 1:
        raise ConfigError("--windows and --repeats must be >= 1")
    if args.device == "cpu":
        result = run_sparse_benchmark(args.windows, args.repeats, args.eye_data, args.checkpoint,
                                      args.gesture_data, args.classifier_run)
    else:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"--device {args.device}: CUDA is not available here; the CPU benchmark is --device cpu")
        result = run_gpu_benchmark(args.device, args.windows, repeats=args.repeats, eye_data=args.eye_data,
                                   gesture_data=args.gesture_data, classifier_run=args.classifier_run)
    if args.output:
        write_text_atomic(args.output, json.dumps(result, indent=2) + "\n")
    return result


def register(cli) -> None:
    """Add ``engine check`` and ``bench sparse``."""
    p = cli.command("check", _check, "run an IR with the compiled engine and the NumPy reference: bit-exactness and ms per window", group="engine")
    p.add_argument("ir", help="IR directory (network.json + tensors.npz)")
    p.add_argument("--windows", type=int, default=20, help="random windows to compare (default 20)")
    p.add_argument("--density", type=float, default=0.1, help="fraction of active input sites (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random windows")

    p = cli.command("sparse", _bench, "ms per window, one thread: compiled engine vs spconv vs dense PyTorch", group="bench")
    p.add_argument("--windows", type=int, default=20, help="real-density windows per network (default 20)")
    p.add_argument("--repeats", type=int, default=5, help="calls per window; medians are reported (default 5)")
    p.add_argument("--eye-data", help="3ET+ root for real eye windows (default: render a 0.5 s recording)")
    p.add_argument("--checkpoint", help="eye tracker checkpoint (.safetensors) for trained weights")
    p.add_argument("--gesture-data", help="synthetic gesture set folder for real classifier windows "
                   "(default: render a few recordings in memory)")
    p.add_argument("--classifier-run", help="recognition run folder of an ESDA classifier for trained weights "
                   "(default: random weights; latency does not depend on them)")
    p.add_argument("--device", default="cpu", help="cpu (engine vs spconv vs dense, one thread) or cuda (PyTorch path vs cuDNN)")
    p.add_argument("--output", help="also write the JSON result to this file")

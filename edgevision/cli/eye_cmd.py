"""``edgevision train eye``, ``eval eye``, ``bench eye``, ``bench eye-shift`` and ``bench train``: the event-based eye tracker."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(cli) -> None:
    """Add this module's subcommands to ``cli``."""
    p = cli.command("eye", _train, "train the eye tracker on a 3ET+-layout dataset", group="train")
    p.add_argument("--config", required=True, help="model config YAML (e.g. models/eye_small.yaml)")
    p.add_argument("--data", required=True, help="3ET+-layout dataset root (train/val split lists)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, state.pt, log.csv, plots)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last finished epoch")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--seed", type=int, help="override train.seed")
    p.add_argument("--cache", help="token-slice cache folder (default: <out>/cache)")
    p.add_argument("--nproc", type=int, default=1,
                   help="train data-parallel in N local processes (torch.distributed: NCCL on GPUs, one per process; "
                        "gloo on CPU); the same as torchrun --standalone --nproc-per-node N -m edgevision train eye ...")
    p.add_argument("--summary", help="also write the run summary (JSON) to this file (rank 0)")

    p = cli.command("eye", _eval, "evaluate an eye-tracker checkpoint with the challenge metrics", group="eval")
    p.add_argument("--checkpoint", required=True, help="NAME.safetensors (with NAME.json beside it)")
    p.add_argument("--data", required=True, help="3ET+-layout dataset root")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="dataset split to score (default test)")
    p.add_argument("--rate", type=int, default=100, choices=(100, 20), help="label rate evaluated, Hz")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--cache", help="token-slice cache folder (default: none)")

    p = cli.command("eye", _bench, "per-window CPU latency: spconv vs plain-PyTorch sparse vs dense", group="bench")
    p.add_argument("--checkpoint", default="models/eye_small.safetensors", help="eye-tracker checkpoint (default the shipped one)")
    p.add_argument("--data", required=True, help="3ET+-layout dataset root (e.g. written by `edgevision data synth-eye`)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"), help="split the windows come from (default test)")
    p.add_argument("--windows", type=int, default=200, help="windows to time (default 200)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per window; medians are reported (default 3)")
    p.add_argument("--cache", help="token-slice cache folder (default: none)")
    p.add_argument("--out", help="also write the JSON result to this file")

    p = cli.command("eye-shift", _bench_shift, "accuracy on unseen eyes: own test subjects, the held-out renderer "
                    "family and each held-out parameter range (trains nothing)", group="bench")
    p.add_argument("--checkpoint", default="models/eye_small.safetensors", help="eye-tracker checkpoint (default the shipped one)")
    p.add_argument("--int8", metavar="IR_DIR", help="evaluate with this IR folder's integer backbone (e.g. models/eye_small_int8)")
    p.add_argument("--recordings", type=int, default=6, help="recordings per generated test set (default 6)")
    p.add_argument("--data-seconds", type=float, default=2.0, help="seconds per recording (default 2)")
    p.add_argument("--jobs", type=int, default=1, help="generator processes")
    p.add_argument("--seed", type=int, default=1, help="generator seed (use one other than the training data's)")
    p.add_argument("--cache", help="generated-set cache folder (default ~/.cache/edgevision/eye_shift)")
    p.add_argument("--out", help="write the JSON result to this file and the plot beside it (.png)")

    p = cli.command("train", _bench_train, "eye-tracker training throughput (windows/s, sequences/s) and seconds to a "
                    "validation target on a fixed small synthetic set (CPU or GPU, 1 or N processes)", group="bench")
    p.add_argument("--config", default="models/eye_small.yaml", help="model config YAML (default models/eye_small.yaml)")
    p.add_argument("--data", help="folder the fixed synthetic set is generated into once and reused from "
                                  "(default ~/.cache/edgevision/bench_train)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda: one GPU per process, cuda:0..W-1)")
    p.add_argument("--world-size", type=int, default=1,
                   help="training processes under torch.distributed (gloo on CPU, NCCL on GPUs; default 1)")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps per run (default 20)")
    p.add_argument("--eval-every", type=int, default=10, help="validate every N steps (not timed; default 10)")
    p.add_argument("--target-px", type=float, default=3.0,
                   help="validation mean distance target, 80x60 px (default 3.0)")
    p.add_argument("--repeats", type=int, default=1, help="training runs; the timings are their medians (default 1)")
    p.add_argument("--jobs", type=int, help="data generator processes (default: the CPU count, at most 8)")
    p.add_argument("--out", help="also write the JSON result to this file")
    p.add_argument("--result", help=argparse.SUPPRESS)  # set by the launcher: rank 0 of a --world-size run writes here


def _device(value: str) -> str:
    """``--device`` as torch will use it: cpu, or cuda[:N] when this torch has CUDA and that GPU; else ConfigError."""
    import torch

    from edgevision.errors import ConfigError

    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {value!r}: expected cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {value!r}: expected cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {value!r}: no CUDA GPU usable by this torch ({torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {value!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return value


def _at_least_1(name: str, value: int | None) -> None:
    from edgevision.errors import ConfigError

    if value is not None and value < 1:
        raise ConfigError(f"{name} must be >= 1, got {value}")


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.nn.config import load_config
    from edgevision.nn.train import train_eye

    from edgevision.datasets.threeet import ThreeETPlus

    _at_least_1("--epochs", args.epochs)
    _device(args.device)
    cfg = load_config(args.config)
    ThreeETPlus(args.data, "train")  # a bad --data is refused before the run folder is created
    if args.epochs is not None:
        cfg.train.epochs = args.epochs
    if args.seed is not None:
        cfg.train.seed = args.seed
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args, cfg.train.batch_size)
    summary = train_eye(cfg, args.data, args.out, device=args.device, resume=args.resume, cache_dir=args.cache,
                        on_epoch_end=_epoch_line(cfg.train.epochs))
    if args.summary and "rank" not in summary:
        from edgevision.atomic import write_bytes_atomic

        write_bytes_atomic(args.summary, json.dumps(summary).encode())
    return summary


def _epoch_line(epochs: int):
    """One stderr line per finished epoch with its validation metrics (off under -q, like the progress bars)."""

    def show(epoch: int, row: dict) -> None:
        if os.environ.get("TQDM_DISABLE") != "1":
            print(f"train eye: epoch {row['epoch']}/{epochs}: loss {row['train_loss']:.4f}, val mean "
                  f"{row['val_mean_distance']:.3f} px, p1 {100 * row['val_p1']:.1f} %, p3 {100 * row['val_p3']:.1f} %, "
                  f"p5 {100 * row['val_p5']:.1f} %, p10 {100 * row['val_p10']:.1f} %, {row['seconds']:.1f} s",
                  file=sys.stderr, flush=True)

    return show


def _launch(args: argparse.Namespace, batch_size: int, command: str = "train eye") -> dict[str, Any]:
    """Run this training as ``--nproc`` processes under torch.distributed.run; rank 0's summary is the result.
    Also used by ``train classify --nproc`` (the command needs ``--nproc`` and a ``--summary`` option)."""
    import subprocess
    import sys
    import tempfile

    from edgevision.errors import ConfigError, EdgevisionError
    from edgevision.nn.distributed import torchrun_argv

    if batch_size % args.nproc:
        raise ConfigError(f"--nproc {args.nproc}: train.batch_size {batch_size} must be divisible by it")
    argv = [a for a in sys.argv[1:] if a != "--json"]
    i = argv.index("--nproc") if "--nproc" in argv else None
    argv = argv[:i] + argv[i + 2 :] if i is not None else [a for a in argv if not a.startswith("--nproc=")]
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.run(torchrun_argv(args.nproc, [*argv, "--summary", str(summary)]), env=env,
                              stdout=subprocess.DEVNULL)
        if proc.returncode or not summary.is_file():
            raise EdgevisionError(f"{command} --nproc {args.nproc}: a training process failed (exit {proc.returncode}); "
                                  "its error is above")
        return json.loads(summary.read_text())


def _eval(args: argparse.Namespace) -> dict[str, Any]:
    from pathlib import Path

    from edgevision.nn.checkpoint import load_eye_tracker
    from edgevision.nn.eye_data import load_split
    from edgevision.nn.train import evaluate

    from edgevision.datasets.threeet import ThreeETPlus
    from edgevision.errors import DatasetError

    _device(args.device)
    model, cfg = load_eye_tracker(args.checkpoint, args.device)
    if len(ThreeETPlus(args.data, args.split)) == 0:
        raise DatasetError(f"{args.data}: split {args.split!r} has no recordings to evaluate")
    recs = load_split(args.data, args.split, cfg, Path(args.cache) if args.cache else None)
    metrics, _ = evaluate(model, recs, cfg, args.device, args.rate)
    return {"checkpoint": args.checkpoint, "split": args.split, "rate_hz": args.rate, **metrics}


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import json

    from edgevision.atomic import write_text_atomic
    from edgevision.bench.eye import bench_eye

    _at_least_1("--windows", args.windows)
    _at_least_1("--repeats", args.repeats)
    result = bench_eye(args.checkpoint, args.data, args.split, args.windows, args.repeats, args.cache)
    if args.out:
        write_text_atomic(args.out, json.dumps(result, indent=1))
    return result


def _bench_shift(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.bench.eye_shift import bench_eye_shift

    return bench_eye_shift(args.checkpoint, args.int8, args.recordings, args.data_seconds, args.jobs, args.seed,
                           args.cache, args.out)


def _bench_train(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.atomic import write_text_atomic
    from edgevision.bench.train_bench import bench_train, check_args, worker

    if "WORLD_SIZE" in os.environ and args.result:  # one rank of a --world-size launch
        check_args(args.device, args.world_size, args.steps, args.eval_every, 1, args.target_px)
        return worker(args.config, args.data, args.device, args.steps, args.eval_every, args.target_px, args.result)
    _at_least_1("--jobs", args.jobs)
    result = bench_train(config=args.config, data=args.data, device=args.device, world_size=args.world_size,
                         steps=args.steps, eval_every=args.eval_every, target_px=args.target_px, repeats=args.repeats,
                         jobs=args.jobs)
    if args.out:
        write_text_atomic(args.out, json.dumps(result, indent=1))
    return result

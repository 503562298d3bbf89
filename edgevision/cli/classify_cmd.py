"""Recognition commands: synthetic gesture set, classifier training/evaluation, comparison benchmark."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgevision.errors import ConfigError

MODELS = ("esda", "spikepoint", "pointnet", "random-features")


def register(cli) -> None:
    """Add ``data synth-gesture``, ``train classify``, ``eval classify`` and ``bench classify``."""
    p = cli.command("synth-gesture", _synth, "render a synthetic 10-class gesture event set (split by subject)", group="data")
    p.add_argument("--out", required=True, help="output folder (must not hold a set yet)")
    p.add_argument("--recordings", type=int, default=300, help="number of 1 s recordings (>= 20)")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--subjects", type=int, default=10, help="number of simulated subjects")

    p = cli.command("classify", _train, "train a recognition model (run folder: checkpoints, log.csv, plots)", group="train")
    p.add_argument("--arch", "--model", dest="model", required=True, choices=MODELS,
                   help="architecture (--model is the older spelling of this flag; elsewhere --model names an IR folder)")
    p.add_argument("--data", required=True, help="dvsgesture:ROOT, dvsgesture10:ROOT, nmnist:ROOT, asldvs:ROOT, ncaltech101:ROOT or a synthetic-set folder")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 30; with --resume: the run's own)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out after its last saved epoch")
    p.add_argument("--batch-size", type=int, default=16, help="windows per optimizer step (default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, batch order and augmentation")
    p.add_argument("--max-train-windows", type=int, default=0, help="random subset of training windows per epoch (0 = all)")
    p.add_argument("--window-us", type=int, default=500_000, help="window length in microseconds (default 500 ms)")
    p.add_argument("--step-us", type=int, default=250_000, help="step between window starts in microseconds (default 250 ms)")
    p.add_argument("--model-config", default=None, help='JSON object of model settings, e.g. \'{"timesteps": 8}\'')
    p.add_argument("--shift-px", type=int, default=0, help="augmentation: random translation of each training window (pixels)")
    p.add_argument("--drop-events", type=float, default=0.0, help="augmentation: drop up to this fraction of a window's events")
    p.add_argument("--folds", type=int, default=0, help="cross-validation: split the training recordings into N folds by hash")
    p.add_argument("--fold", type=int, default=0, help="with --folds: the fold held out as the test part")
    p.add_argument("--augment-passes", type=int, default=0, help="random-features: extra augmented passes over the training "
                   "windows for the closed-form fit")
    p.add_argument("--threads", type=int, default=1, help="torch threads while training (default 1)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N: where the model and its batches live (default cpu); "
                   "with --nproc on cuda each process takes cuda:LOCAL_RANK")
    p.add_argument("--nproc", type=int, default=1,
                   help="train data-parallel in N local processes (torch.distributed: gloo on CPU, NCCL on GPUs, one "
                        "per process); the same as torchrun --standalone --nproc-per-node N -m edgevision train classify ...; "
                        "--batch-size is the global batch and must divide by N")
    p.add_argument("--summary", help="also write the run summary (JSON) to this file (rank 0)")

    p = cli.command("classify", _eval, "window and per-recording accuracy of a trained classifier", group="eval")
    p.add_argument("--checkpoint", required=True, help="run folder or its model.safetensors")
    p.add_argument("--data", default=None, help="data spec (default: the run's)")
    p.add_argument("--part", default="test", choices=("train", "test", "all"), help="which recordings to score (default test)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")

    p = cli.command("classify-csim", _csim, "int8 ESDA classifier IR on the C-simulated accelerator: bit-exactness, "
                    "float vs int8 accuracy, modelled latency per window", group="eval")
    p.add_argument("--ir", required=True, help="IR folder from `edgevision quantize --classifier`")
    p.add_argument("--checkpoint", required=True, help="the float run folder the IR was quantized from")
    p.add_argument("--data", default=None, help="data spec (default: the run's)")
    p.add_argument("--part", default="test", choices=("train", "test", "all"), help="which recordings to run (default test)")
    p.add_argument("--board", default="zcu102", help="board whose parallelism and clock the design uses (default zcu102)")
    p.add_argument("--limit", type=int, default=0, help="first N windows only (0 = all)")

    p = cli.command("classify-cv", _cv, "cross-validation table of recognition runs (one folder per family and fold) "
                    "with params, ops, energy and CPU latency, written into a markdown file", group="bench")
    p.add_argument("--runs", required=True, help="folder holding <family>_f<K> run folders")
    p.add_argument("--doc", default="docs/recognition.md", help="markdown file whose generated CV table is replaced")
    p.add_argument("--out", default=None, help="JSON summary (default RUNS/cv.json)")

    p = cli.command("classify", _bench, "train the four classifiers briefly on a synthetic set and write the table to docs/recognition.md", group="bench")
    p.add_argument("--data", default=None, help="existing synthetic set (default: generate one in --work)")
    p.add_argument("--work", default="build/bench-classify", help="folder for the generated set, runs and bench.json")
    p.add_argument("--recordings", type=int, default=200, help="synthetic recordings to generate (default 200)")
    p.add_argument("--doc", default="docs/recognition.md", help="markdown file whose generated table is replaced")


def _synth(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.recognition.synth import SynthConfig, synthesize

    return synthesize(args.out, args.recordings, args.seed, cfg=SynthConfig(subjects=args.subjects))


def _model_config(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--model-config: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError("--model-config: expected a JSON object")
    return value


def _train(args: argparse.Namespace) -> dict[str, Any]:
    import os

    from edgevision.cli.eye_cmd import _device, _launch
    from edgevision.recognition.train import TrainSettings, train_classifier
    from edgevision.recognition.windows import WindowConfig

    _device(args.device)
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        from pathlib import Path

        batch_size, run_json = args.batch_size, Path(args.out) / "run.json"
        if args.resume and run_json.is_file():  # a resumed run keeps its own (global) batch size
            batch_size = int(json.loads(run_json.read_text())["train"]["batch_size"])
        return _launch(args, batch_size, command="train classify")

    settings = TrainSettings(
        epochs=args.epochs if args.epochs is not None else (0 if args.resume else 30),
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        max_train_windows=args.max_train_windows,
        shift_px=args.shift_px,
        drop_events=args.drop_events,
        folds=args.folds,
        fold=args.fold,
        threads=args.threads,
        augment_passes=args.augment_passes,
    )
    summary = train_classifier(
        args.model,
        args.data,
        args.out,
        settings=settings,
        model_overrides=_model_config(args.model_config),
        window=WindowConfig(args.window_us, args.step_us),
        resume=args.resume,
        device=args.device,
    )
    if args.summary and "rank" not in summary:
        from edgevision.atomic import write_text_atomic

        write_text_atomic(args.summary, json.dumps(summary))
    return summary


def _eval(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.cli.eye_cmd import _device
    from edgevision.recognition.train import evaluate_run

    return evaluate_run(args.checkpoint, args.data, args.part, device=_device(args.device))


def _csim(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.recognition.csim import csim_classifier

    return csim_classifier(args.ir, args.checkpoint, args.data, args.part, args.board, args.limit)


def _cv(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.recognition.cv import summarize_cv

    return summarize_cv(args.runs, args.doc, args.out)


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.recognition.bench import run_bench

    return run_bench(args.work, args.doc, data=args.data, recordings=args.recordings)

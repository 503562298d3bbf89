"""Commands of the quantization stage: ``edgevision quantize``, ``edgevision quant export-onnx`` and
``edgevision quant export-qonnx``."""

from __future__ import annotations

import argparse
from typing import Any


def _quantize(args: argparse.Namespace) -> dict[str, Any]:
    if args.classifier:
        from edgevision.quant.classifier_run import quantize_classifier

        return quantize_classifier(args.checkpoint, args.out, calibrate_windows=args.calibrate, method=args.method,
                                   seed=args.seed)
    if not args.data:
        from edgevision.errors import ConfigError

        raise ConfigError("quantize: --data is required for an eye-tracker checkpoint (3ET+-layout dataset folder)")
    from edgevision.quant.pipeline import quantize_eye

    report = quantize_eye(
        args.checkpoint, args.data, args.out,
        calibrate_windows=args.calibrate, method=args.method, qat_epochs=args.qat, qat_steps=args.qat_steps,
        gru_bits=args.gru_bits, mixed_precision=args.mixed_precision, budget_kb=args.budget_kb,
        cache_dir=args.cache, eval_split=args.eval_split, seed=args.seed,
    )
    if not args.json:  # the readable summary; the full report is in QDIR/quant_report.json
        keep = [k for k in report if not isinstance(report[k], (dict, list))]
        return {k: report[k] for k in keep}
    return report


def _export_onnx(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.quant.onnx_export import export_onnx

    return export_onnx(args.checkpoint, args.out, check=not args.no_check)


def _export_qonnx(args: argparse.Namespace) -> dict[str, Any]:
    from edgevision.quant.qonnx_export import export_qonnx

    return export_qonnx(args.model, args.out, check=args.check)


def register(cli) -> None:
    """Add ``quantize`` (top level), ``quant export-onnx`` and ``quant export-qonnx``."""
    p = cli.command("quantize", _quantize, "quantize an eye-tracker checkpoint (or, with --classifier, a sparse CNN "
                    "classifier run) to the integer IR and report float vs int8 accuracy")
    p.add_argument("--checkpoint", required=True, help="eye-tracker checkpoint (.safetensors with its .json), or with "
                   "--classifier a run folder of `edgevision train classify --arch esda`")
    p.add_argument("--classifier", action="store_true", help="the checkpoint is an ESDA classifier run: IR ends in an fc "
                   "layer (int32 logits); data and windows come from its run.json, accuracy from its test split")
    p.add_argument("--data", default=None, help="3ET+-layout dataset folder (train for calibration, val for the report); "
                   "not used with --classifier")
    p.add_argument("--out", required=True, help="output folder QDIR: network.json, tensors.npz, quant_report.json "
                   "(and head.npz, the eye tracker's GRU head: `track --model QDIR` needs no checkpoint)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--calibrate", type=int, default=512, metavar="N", help="calibration windows (default 512)")
    mode.add_argument("--qat", type=int, default=0, metavar="EPOCHS", help="quantization-aware fine-tuning epochs after calibration")
    p.add_argument("--qat-steps", type=int, default=None, metavar="N", help="cap the QAT steps per epoch")
    p.add_argument("--method", choices=("mse", "percentile", "max"), default="mse", help="activation range calibration (default mse)")
    p.add_argument("--gru-bits", type=int, choices=(16, 8), default=None, help="also report a fake-quantized GRU/head at this width")
    p.add_argument("--mixed-precision", action="store_true", help="search per-layer weight bits (8/6/4) under --budget-kb")
    p.add_argument("--budget-kb", type=float, default=None, help="conv weight budget in KiB (default 75%% of int8)")
    p.add_argument("--eval-split", choices=("val", "test"), default="val", help="split the accuracy report uses (default val)")
    p.add_argument("--cache", default=None, help="token-slice cache folder (default QDIR/cache)")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration window sample")

    e = cli.command("export-onnx", _export_onnx, "export the float backbone (masked dense) and GRU head to ONNX", group="quant")
    e.add_argument("--checkpoint", required=True, help="eye-tracker checkpoint (.safetensors with its .json)")
    e.add_argument("--out", required=True, help="output folder: backbone.onnx, gru_head.onnx")
    e.add_argument("--no-check", action="store_true", help="skip the onnxruntime vs PyTorch comparison")

    q = cli.command("export-qonnx", _export_qonnx, "export the int8 IR as a QONNX graph (dense + site mask, Quant-annotated "
                    "int8 weights), bit-exact with the integer reference, for FINN / hls4ml flows", group="quant")
    q.add_argument("--model", required=True, help="integer IR folder (network.json, tensors.npz), e.g. models/eye_small_int8")
    q.add_argument("--out", required=True, help="QONNX file to write (FILE.onnx)")
    q.add_argument("--check", type=int, default=2, metavar="N", help="random windows run with qonnx and compared bit for "
                   "bit with the integer reference (default 2; 0 skips; skipped when qonnx is not installed)")

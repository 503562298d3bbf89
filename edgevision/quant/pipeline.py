"""`edgevision quantize`: checkpoint + dataset -> calibrated (or QAT) integer backbone IR + accuracy report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from edgevision.atomic import write_text_atomic
from edgevision.ir.head import HEAD_KEYS, save_head
from edgevision.ir.schema import front_end, save_ir
from edgevision.nn.checkpoint import load_eye_tracker, save_checkpoint
from edgevision.nn.config import EyeConfig
from edgevision.nn.eye_data import RecordingSlices, make_batch, sequence_starts
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.calibrate import calibrate
from edgevision.quant.eye import QuantEyeTracker
from edgevision.quant.qbackbone import export_ir

REPORT_FILE = "quant_report.json"
TRADEOFF_PNG = "mixed_precision.png"
QAT_CHECKPOINT = "eye_qat.safetensors"


def sample_windows(recs: list[RecordingSlices], n: int, seed: int = 0, batch: int = 256) -> list[SparseTensor]:
    """``n`` random label-slot windows of ``recs`` as batches of at most ``batch`` windows."""
    rng = np.random.default_rng(seed)
    pairs = np.concatenate([np.stack([np.full(r.n, i), np.arange(r.n)], 1) for i, r in enumerate(recs)])
    pick = pairs[rng.choice(len(pairs), size=min(n, len(pairs)), replace=False)]
    return [make_batch(recs, pick[i : i + batch], 1)[0] for i in range(0, len(pick), batch)]


def _metrics(model: torch.nn.Module, recs: list[RecordingSlices], cfg: EyeConfig) -> dict[str, float]:
    from edgevision.nn.train import evaluate

    m, _ = evaluate(model, recs, cfg)
    return {k: float(m[k]) for k in ("p1", "p3", "p5", "p10", "mean_distance")}


def qat_finetune(qm: QuantEyeTracker, train: list[RecordingSlices], cfg: EyeConfig, epochs: int, lr: float = 1e-4,
                 max_steps: int | None = None, seed: int = 0) -> list[float]:
    """Quantization-aware fine-tuning (fake-quant backbone, frozen BN statistics); returns the mean loss per epoch."""
    from edgevision.nn.train import eye_loss

    tc = cfg.train
    starts = sequence_starts(train, tc.seq_len, tc.stride)
    steps = max(1, len(starts) // tc.batch_size)
    if max_steps:
        steps = min(steps, max_steps)
    opt = torch.optim.Adam(qm.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, 1000 + epoch])
        order = rng.permutation(len(starts))[: steps * tc.batch_size].reshape(steps, -1)
        qm.train()
        ep = []
        for idx in tqdm(order, desc=f"QAT {epoch + 1}/{epochs}", leave=False):
            x, lab = make_batch(train, starts[idx], tc.seq_len, "cpu", rng, tc.jitter_px, cfg.sensor_size, cfg.input.downsample)
            loss = eye_loss(qm(x, len(idx), tc.seq_len), lab, cfg.sensor_size, tc.closed_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(qm.parameters(), tc.grad_clip)
            opt.step()
            ep.append(loss.item())
        losses.append(float(np.mean(ep)))
    qm.eval()
    return losses


def quantize_eye(
    checkpoint: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    calibrate_windows: int = 512,
    method: str = "mse",
    qat_epochs: int = 0,
    qat_steps: int | None = None,
    gru_bits: int | None = None,
    mixed_precision: bool = False,
    budget_kb: float | None = None,
    cache_dir: str | Path | None = None,
    eval_split: str = "val",
    seed: int = 0,
) -> dict[str, Any]:
    """Quantize a trained eye tracker, write the IR + ``quant_report.json`` into ``out``; returns the report.

    Calibration windows come from the train split; accuracy is measured on ``eval_split`` (``val``: the
    training run's validation recordings, ``test``: the held-out test split, which needs real labels).
    """
    from edgevision.nn.eye_data import load_split
    from edgevision.nn.train import split_train_val

    torch.manual_seed(seed)
    out = Path(out)
    model, cfg = load_eye_tracker(checkpoint)
    cache = Path(cache_dir) if cache_dir else out / "cache"
    train, val = split_train_val(Path(data), cfg, cache)
    if eval_split == "test":
        val = load_split(Path(data), "test", cfg, cache)
    elif eval_split != "val":
        raise ValueError(f"eval_split must be 'val' or 'test', got {eval_split!r}")
    float_m = _metrics(model, val, cfg)

    qm = QuantEyeTracker(model, cfg)
    calib = sample_windows(train, calibrate_windows, seed)
    ranges = calibrate(qm.backbone, calib, method)
    report: dict[str, Any] = {"checkpoint": str(checkpoint), "data": str(data), "eval_split": eval_split, "eval_recordings": len(val),
                              "calibration": {"windows": sum(x.batch_size for x in calib), "method": method}}
    int_m = _metrics(qm, val, cfg)
    report["calibrated"] = int_m
    if qat_epochs:
        report["qat_loss"] = qat_finetune(qm, train, cfg, qat_epochs, max_steps=qat_steps, seed=seed)
        float_after = _metrics(model, val, cfg)  # the float weights moved with QAT: report the final model's
        report["float_after_qat"] = float_after
        save_checkpoint(out / QAT_CHECKPOINT, model, cfg, {"qat_from": str(checkpoint), "qat_epochs": qat_epochs})
        report["qat_checkpoint"] = str(out / QAT_CHECKPOINT)  # GRU/head were fine-tuned with the int backbone
        int_m = _metrics(qm, val, cfg)

    if mixed_precision:
        from edgevision.quant.mixed import plot_tradeoff, search_mixed_precision

        full_kb = qm.backbone.weight_bytes() / 1024.0
        budget = float(budget_kb) if budget_kb else 0.75 * full_kb
        bits, points = search_mixed_precision(qm.backbone, calib[0], budget)
        for i in sorted({0, len(points) - 1, *np.linspace(0, len(points) - 1, 5).round().astype(int).tolist(),
                         next(i for i, p in enumerate(points) if p["w_bits"] == bits)}):
            qm.backbone.w_bits.update(points[i]["w_bits"])
            points[i].update(_metrics(qm, val, cfg))
        qm.backbone.w_bits.update(bits)
        int_m = _metrics(qm, val, cfg)
        plot_tradeoff(points, budget, str(out / TRADEOFF_PNG))
        report["mixed_precision"] = {"budget_kb": budget, "full_int8_kb": full_kb, "chosen_w_bits": bits,
                                     "chosen_kb": qm.backbone.weight_bytes() / 1024.0, "points": points,
                                     "plot": str(out / TRADEOFF_PNG)}

    for k in ("p10", "p5", "p3", "p1", "mean_distance"):
        report[f"{k}_float"] = float_m[k]
        report[f"{k}_int8"] = int_m[k]
    report["p10_drop_pp"] = 100.0 * (float_m["p10"] - int_m["p10"])
    if gru_bits:
        gm = QuantEyeTracker(model, cfg, gru_bits=gru_bits)
        gm.backbone = qm.backbone
        g = _metrics(gm, val, cfg)
        report["gru_bits"] = gru_bits
        report.update({f"{k}_int8_gru{gru_bits}": g[k] for k in ("p10", "p5", "p3", "mean_distance")})
        report[f"p10_drop_pp_gru{gru_bits}"] = 100.0 * (int_m["p10"] - g["p10"])

    net = export_ir(qm.backbone, front_end(cfg.sensor_size, cfg.to_dict()["input"]), name=f"{cfg.name}_backbone_int8",
                    meta={"checkpoint": Path(checkpoint).name, "config": cfg.to_dict(), "activation_ranges": ranges})
    net.meta["feature_scale"] = float(net.layer(net.output).attrs["scale"])
    save_ir(net, out)
    state = model.state_dict()  # the host half: `track --model OUT` needs no float checkpoint
    save_head({k: state[k].detach().cpu().numpy() for k in HEAD_KEYS}, out)
    report["ir"] = str(out)
    report["weight_kb"] = qm.backbone.weight_bytes() / 1024.0
    write_text_atomic(out / REPORT_FILE, json.dumps(report, indent=1))
    return report

"""`edgevision quantize --classifier`: a recognition run folder holding a sparse CNN (ESDA) classifier ->
calibrated int8 IR with int32 logits + ``quant_report.json`` (float vs int8 accuracy on the run's test split)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from edgevision.atomic import write_text_atomic
from edgevision.errors import ConfigError
from edgevision.ir.schema import front_end, save_ir
from edgevision.quant.calibrate import calibrate
from edgevision.quant.classifier import QuantClassifier, export_classifier_ir
from edgevision.quant.pipeline import REPORT_FILE
from edgevision.quant.qbackbone import ACT_QMAX


def quantize_classifier(run: str | Path, out: str | Path, *, calibrate_windows: int = 256, method: str = "mse",
                        batch_size: int = 32, seed: int = 0) -> dict[str, Any]:
    """Quantize the classifier of ``run`` (calibration windows from its train split), write the IR and the
    report into ``out``; returns the report."""
    from edgevision.recognition.sources import open_source
    from edgevision.recognition.train import accuracy, load_run
    from edgevision.recognition.windows import WindowConfig, WindowSet, make_batch

    model, info, _ = load_run(run)
    if getattr(model, "input_kind", None) != "tokens" or not hasattr(model, "backbone"):
        raise ConfigError(f"{run}: model {info['model']!r} is not a sparse CNN classifier; --classifier quantizes "
                          "runs of `edgevision train classify --arch esda`")
    model.eval()
    src = open_source(info["data"])
    wcfg = WindowConfig(**info["window"])
    train = WindowSet(src, src.indices("train"), wcfg, progress=False)
    test = WindowSet(src, src.indices("test"), wcfg, progress=False)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(train), min(calibrate_windows, len(train)), replace=False))
    calib = [make_batch(train, pick[i : i + batch_size], "tokens", model.cfg, rng) for i in range(0, len(pick), batch_size)]
    qc = QuantClassifier.from_model(model, calib[0].shape, max(1.0, float(model.cfg.input_clip) / ACT_QMAX))
    ranges = calibrate(qc.backbone, calib, method)
    qc.eval()
    meta = {"run": str(run), "model": info["model"], "classes": info["classes"], "sensor_size": info["sensor_size"],
            "window": info["window"], "model_config": info["model_config"], "activation_ranges": ranges}
    mc = info["model_config"]
    front = front_end(info["sensor_size"], {"downsample": mc["downsample"], "slice_us": wcfg.window_us,
                                            "time_bins": mc["time_bins"], "input_clip": mc["input_clip"]})
    net = export_classifier_ir(qc, front, name=f"{info['model']}_classifier_int8", meta=meta)
    scores_f, scores_q = [], []
    with torch.no_grad():
        for start in tqdm(range(0, len(test), batch_size), desc="float vs int8", leave=False):
            x = make_batch(test, np.arange(start, min(start + batch_size, len(test))), "tokens", model.cfg, rng)
            scores_f.append(model(x).numpy())
            scores_q.append(qc(x).numpy())
    sf, sq = np.concatenate(scores_f), np.concatenate(scores_q)
    acc_f, acc_q = accuracy(sf, test), accuracy(sq, test)
    out = Path(out)
    save_ir(net, out)
    report = {"run": str(run), "ir": str(out), "calibration": {"windows": int(len(pick)), "method": method},
              "test_windows": acc_f["windows"], "test_recordings": acc_f["recordings"],
              "window_acc_float": acc_f["window_acc"], "window_acc_int8": acc_q["window_acc"],
              "recording_acc_float": acc_f["recording_acc"], "recording_acc_int8": acc_q["recording_acc"],
              "argmax_agreement": float((sf.argmax(1) == sq.argmax(1)).mean()) if len(sf) else 0.0,
              "logit_scale": float(net.layer(net.output).attrs["scale"])}
    write_text_atomic(out / REPORT_FILE, json.dumps(report, indent=1))
    return report

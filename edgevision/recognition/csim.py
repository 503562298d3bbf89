"""An int8 ESDA classifier (IR from ``edgevision quantize --classifier``) on the C-simulated accelerator, on a
recognition source's windows: bit-exactness against the NumPy integer reference, float vs int8 (C-sim) accuracy
and the modelled latency per window (cycle counts of the simulated modules at the board clock)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edgevision.errors import ConfigError, DatasetError
from edgevision.events.tokens import histogram_tokens
from edgevision.fpga.csim import compile_design
from edgevision.fpga.flow import plan
from edgevision.fpga.model import latency_cycles, sequential_cycles
from edgevision.ir.schema import load_ir
from edgevision.quant.reference import quantize_input, run_network
from edgevision.recognition.train import accuracy, load_run, predict, run_source
from edgevision.recognition.windows import WindowConfig, WindowSet


def int8_windows(net, ws: WindowSet, model_cfg) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every window of ``ws`` as the IR's input: histogram tokens (the classifier's own settings), counts clipped
    at ``input_clip``, quantized at the IR input scale (round half up, int8)."""
    sensor = ws.source.sensor_size
    out = []
    for i in range(len(ws)):
        ev, t0, t1 = ws.window_events(i)
        tk = histogram_tokens(ev, sensor, factor=model_cfg.downsample, time_bins=model_cfg.time_bins, t_start=t0, t_end=t1)
        if tuple(tk.shape) != (net.input.height, net.input.width) or tk.feats.shape[1] != net.input.channels:
            raise ConfigError(f"windows give {tk.shape} x {tk.feats.shape[1]} channels but the IR input is "
                              f"{net.input.height}x{net.input.width} x {net.input.channels}: IR and run do not match")
        out.append((np.ascontiguousarray(tk.coords, np.int32),
                    quantize_input(np.minimum(tk.feats, model_cfg.input_clip), net.input)))
    return out


def csim_classifier(ir: str | Path, checkpoint: str | Path, data: str | None = None, part: str = "test",
                    board: str = "zcu102", limit: int = 0, project: str | Path | None = None) -> dict[str, Any]:
    """C-simulate the int8 IR ``ir`` on ``part`` of ``data`` (default: the run's data, its own held-out part) and
    compare with the float run ``checkpoint``. ``limit`` > 0 keeps the first ``limit`` windows."""
    net = load_ir(ir)
    model, info, _ = load_run(checkpoint)
    if getattr(model, "input_kind", None) != "tokens":
        raise ConfigError(f"{checkpoint}: model {info['model']!r} is not a sparse CNN classifier")
    src = run_source(info, data)
    idx = src.indices(part)
    if limit:
        idx = idx[:limit]
    if len(idx) == 0:
        raise DatasetError(f"{data or info['data']}: no {part} recordings")
    ws = WindowSet(src, idx, WindowConfig(**info["window"]), progress=False)
    wins = int8_windows(net, ws, model.cfg)
    graph, est = plan(net, board, wins)
    with tempfile.TemporaryDirectory(prefix="edgevision_cls_hls_") as tmp:
        t0 = time.perf_counter()
        design = compile_design(graph, project or tmp, board)
        t1 = time.perf_counter()
        res = design.run(wins)
        t2 = time.perf_counter()
    logits = np.stack([np.asarray(o, np.int64) for o in res.outputs])
    matched = sum(int(np.array_equal(o, run_network(net, c, f)))
                  for o, (c, f) in tqdm(list(zip(res.outputs, wins)), desc="reference", leave=False))
    scale = float(net.layer(net.output).attrs["scale"])
    acc_q = accuracy(logits.astype(np.float64) * scale, ws)
    scores_f = predict(model, ws, 32)
    acc_f = accuracy(scores_f, ws)
    names = [m.name for m in graph.modules]
    per = [dict(zip(names, row.astype(float))) for row in res.cycles]
    seq = np.array([sequential_cycles(c) for c in per])
    flow = np.array([latency_cycles(graph, c) for c in per])
    return {
        "ir": str(ir), "run": str(checkpoint), "data": data or info["data"], "part": part, "board": est.board.name,
        "windows": len(wins), "recordings": acc_q["recordings"], "bit_exact_windows": matched,
        "bit_exact": matched == len(wins),
        "window_acc_float": acc_f["window_acc"], "window_acc_int8_csim": acc_q["window_acc"],
        "recording_acc_float": acc_f["recording_acc"], "recording_acc_int8_csim": acc_q["recording_acc"],
        "drop_pp": 100.0 * (acc_f["recording_acc"] - acc_q["recording_acc"]),
        "argmax_agreement": float((scores_f.argmax(1) == logits.argmax(1)).mean()),
        "latency_ms_median": est.ms(float(np.median(seq))), "latency_ms_p95": est.ms(float(np.percentile(seq, 95))),
        "latency_dataflow_ms_median": est.ms(float(np.median(flow))),
        "cycles_median": float(np.median(seq)), "clock_mhz": est.board.clock_mhz,
        "mean_sites": float(np.mean([len(c) for c, _ in wins])),
        "parallelism": graph.parallelism(), "resources": est.resources.as_dict(),
        "compile_s": t1 - t0, "csim_s": t2 - t1,
        "latency_note": "latency_ms: cycles of all simulated modules one after another (upper bound at II=1); "
                        "latency_dataflow_ms: modelled overlap of the modules",
    }

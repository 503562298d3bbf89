"""``edgevision bench eye``: per-window CPU latency (1 thread) of the eye tracker's backbone and backbone + GRU
step for spconv, the plain-PyTorch sparse ops and the same network run densely (masked ``conv2d``), with MACs.

Windows come from a 3ET+-layout dataset (non-empty 10 ms slices, evenly spaced over the split). All three paths
run in one process on the same windows, alternating window by window; medians and ratios are against the
plain-PyTorch sparse path. The dense path is timed from a ready dense grid + mask (scattering excluded).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgevision.nn.checkpoint import load_eye_tracker
from edgevision.nn.dense import DenseBackbone, to_dense
from edgevision.nn.eye_data import load_split, make_batch

IMPLS = ("spconv", "torch", "dense")


def _windows(recs, count: int, downsample: int):
    pool = [(r, i) for r, rec in enumerate(recs) for i in np.flatnonzero(np.diff(rec.offsets) > 0)]
    if not pool:
        raise ValueError("no non-empty windows in the data")
    pick = np.linspace(0, len(pool) - 1, min(count, len(pool))).astype(int)
    return [make_batch(recs, np.array([pool[k]]), 1, downsample=downsample)[0] for k in pick]


def _interleaved_medians(fns: dict, inputs: dict, repeats: int) -> dict[str, float]:
    """Median ms per call of each ``fns[name](inputs[name][i])``; implementations alternate window by window so
    that load from other processes hits all of them alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    n = len(next(iter(inputs.values())))
    for _ in range(repeats):
        for i in range(n):
            for name, fn in fns.items():
                x = inputs[name][i]
                t0 = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - t0)
    return {k: float(np.median(v) * 1e3) for k, v in times.items()}


def bench_eye(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "test",
    windows: int = 200,
    repeats: int = 3,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns medians (ms), ratios, MACs per window and the windows' density."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, cfg = load_eye_tracker(checkpoint)
        recs = load_split(data, split, cfg, Path(cache_dir) if cache_dir else None)
        xs = _windows(recs, windows, cfg.input.downsample)
        dense_net = DenseBackbone(model.backbone).eval()
        dense_in = [to_dense(x) for x in xs]
        h0 = torch.zeros(1, 1, cfg.gru.hidden)
        backbone = {
            "spconv": lambda x: model.backbone(x, impl="spconv"),
            "torch": lambda x: model.backbone(x, impl="torch"),
            "dense": lambda gm: dense_net(*gm),
        }
        step = {k: (lambda x, fn=fn: model.head_step(fn(x), h0)) for k, fn in backbone.items()}
        inputs = {"spconv": xs, "torch": xs, "dense": dense_in}
        out: dict[str, Any] = {"checkpoint": str(checkpoint), "data": str(data), "split": split, "windows": len(xs)}
        with torch.inference_mode():
            ref = [model.backbone(x) for x in xs[:20]]
            out["max_abs_diff_vs_torch"] = {
                "spconv": max(float((model.backbone(x, impl="spconv") - r).abs().max()) for x, r in zip(xs, ref)),
                "dense": max(float((dense_net(*g) - r).abs().max()) for g, r in zip(dense_in, ref)),
            }
            _interleaved_medians(backbone, {k: v[:10] for k, v in inputs.items()}, 1)  # warm-up
            backbone_ms = _interleaved_medians(backbone, inputs, repeats)
            step_ms = _interleaved_medians(step, inputs, repeats)
        sites = np.array([x.coords.shape[0] for x in xs])
        grid = cfg.input.grid(cfg.sensor_size)
        macs = [model.backbone.macs(x) for x in xs]
        gru_macs = 3 * cfg.gru.hidden * (model.backbone.feature_dim + cfg.gru.hidden) + 3 * cfg.gru.hidden
        out.update(
            {
                "threads": 1,
                "input_density": float(sites.mean() / (grid[0] * grid[1])),
                "active_sites_mean": float(sites.mean()),
                "backbone_ms": backbone_ms,
                "backbone_plus_gru_step_ms": step_ms,
                "ratio_vs_torch_sparse": {k: v / backbone_ms["torch"] for k, v in backbone_ms.items()},
                "macs_per_window": {
                    "sparse_backbone": float(np.mean([m["sparse"] for m in macs])),
                    "dense_backbone": float(np.mean([m["dense"] for m in macs])),
                    "gru_head": gru_macs,
                },
            }
        )
        return out
    finally:
        torch.set_num_threads(threads)

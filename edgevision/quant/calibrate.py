"""Post-training calibration of activation clipping ranges (percentile or MSE-optimal) on real windows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from edgevision.nn.layers import PoolNode, Sites
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.qbackbone import ACT_QMAX, QuantBackbone

METHODS = ("mse", "percentile", "max")


@torch.no_grad()
def collect_activations(qb: QuantBackbone, batches: Iterable[SparseTensor], max_samples: int = 200_000,
                        seed: int = 0) -> dict[str, np.ndarray]:
    """Float (BN in eval mode) output values of every non-pool node, subsampled to ``max_samples`` each."""
    rng = np.random.default_rng(seed)
    was = qb.backbone.training
    qb.backbone.eval()
    chunks: dict[str, list[np.ndarray]] = {}
    for x in batches:
        sites = Sites("torch")
        acts = {"input": x.replace(qb.quantize_input(x.feats) * qb.input_scale)}
        for node in qb.nodes:
            if isinstance(node, PoolNode):
                break
            acts[node.name] = node([acts[n] for n in node.inputs], sites)
            v = acts[node.name].feats.reshape(-1).cpu().numpy()
            if v.size > max_samples:
                v = rng.choice(v, max_samples, replace=False)
            chunks.setdefault(node.name, []).append(v)
    qb.backbone.train(was)
    out = {}
    for name, parts in chunks.items():
        v = np.concatenate(parts)
        out[name] = rng.choice(v, max_samples, replace=False) if v.size > max_samples else v
    return out


def clip_range(values: np.ndarray, method: str = "mse", relu: bool = False, percentile: float = 99.99) -> float:
    """Clipping range r of one activation: the scale is r / 127 (values clipped to [-r, r] or [0, r] after ReLU).

    ``max``: largest magnitude; ``percentile``: that percentile of the magnitudes; ``mse``: the r among 60
    log-spaced candidates in [0.02, 1] x max minimizing the mean squared quantization error (round half up, clip).
    """
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    mag = np.abs(np.asarray(values, np.float64))
    top = float(mag.max()) if mag.size else 0.0
    if top == 0.0:
        return 1.0
    if method == "max":
        return top
    if method == "percentile":
        return max(float(np.percentile(mag, percentile)), 1e-6)
    v = np.asarray(values, np.float64)
    lo = 0 if relu else -ACT_QMAX - 1
    cands = top * np.geomspace(0.02, 1.0, 60)
    s = cands / ACT_QMAX
    err = [float(np.mean((np.clip(np.floor(v / si + 0.5), lo, ACT_QMAX) * si - v) ** 2)) for si in s]
    return float(cands[int(np.argmin(err))])


def calibrate(qb: QuantBackbone, batches: Iterable[SparseTensor], method: str = "mse",
              percentile: float = 99.99) -> dict[str, float]:
    """Set every activation range of ``qb`` from float activations on ``batches``; returns name -> range."""
    ranges = {}
    for name, v in collect_activations(qb, batches).items():
        node = next(n for n in qb.nodes if n.name == name)
        act = getattr(node, "act_name", None)
        r = clip_range(v, method, relu=act in ("relu", "relu6"), percentile=percentile)
        if act == "relu6":
            r = min(r, 6.0)
        qb.set_act_range(name, r)
        ranges[name] = r
    return ranges

"""Hardware-aware mixed precision (DyBit-style): per-layer weight bit widths (8/6/4) chosen by a sensitivity
search under a weight-memory budget, with the accuracy-vs-size trade-off curve."""

from __future__ import annotations

from typing import Any

import torch

from edgevision.nn.layers import ConvNode
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.qbackbone import QuantBackbone

BIT_CHOICES = (8, 6, 4)


def _feature_error(qb: QuantBackbone, x: SparseTensor, ref: torch.Tensor) -> float:
    """Relative squared error of the integer backbone's features against ``ref``."""
    out = qb.forward_int(x)
    return float(((out - ref) ** 2).sum() / (ref**2).sum().clamp(min=1e-12))


def layer_sensitivity(qb: QuantBackbone, x: SparseTensor, choices: tuple[int, ...] = BIT_CHOICES) -> dict[str, dict[int, float]]:
    """Feature error when only one conv layer drops to each bit width (others as they are): name -> bits -> error."""
    ref = qb.forward_int(x)
    sens: dict[str, dict[int, float]] = {}
    for node in qb.nodes:
        if not isinstance(node, ConvNode):
            continue
        keep = qb.w_bits[node.name]
        sens[node.name] = {}
        for b in choices:
            qb.w_bits[node.name] = b
            sens[node.name][b] = 0.0 if b == keep else _feature_error(qb, x, ref)
        qb.w_bits[node.name] = keep
    return sens


def greedy_path(qb: QuantBackbone, sens: dict[str, dict[int, float]], choices: tuple[int, ...] = BIT_CHOICES) -> list[dict[str, int]]:
    """Bit assignments from all-``choices[0]`` down to all-``choices[-1]``: each step lowers the layer with the
    smallest sensitivity increase per byte saved."""
    numel = {n.name: n.weight.numel() for n in qb.nodes if isinstance(n, ConvNode)}
    bits = {name: choices[0] for name in numel}
    path = [dict(bits)]
    while True:
        best, best_cost = None, float("inf")
        for name, b in bits.items():
            i = choices.index(b)
            if i + 1 == len(choices):
                continue
            nb = choices[i + 1]
            saved = numel[name] * (b - nb) / 8.0
            cost = (sens[name][nb] - sens[name][b]) / saved
            if cost < best_cost:
                best, best_cost = (name, nb), cost
        if best is None:
            return path
        bits[best[0]] = best[1]
        path.append(dict(bits))


def search_mixed_precision(qb: QuantBackbone, x: SparseTensor, budget_kb: float,
                           choices: tuple[int, ...] = BIT_CHOICES) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Choose per-layer weight bits under ``budget_kb`` (KiB of conv weights) and return (bits, trade-off points).

    Each point has ``size_kb``, ``feature_error`` (measured on ``x`` with the integer network) and ``w_bits``;
    the choice is the largest assignment on the greedy path that fits the budget. ``qb.w_bits`` is left set to it.
    """
    for name in qb.w_bits:
        qb.w_bits[name] = choices[0]
    ref = qb.forward_int(x)
    sens = layer_sensitivity(qb, x, choices)
    points = []
    for bits in greedy_path(qb, sens, choices):
        qb.w_bits.update(bits)
        points.append({"size_kb": qb.weight_bytes() / 1024.0, "feature_error": _feature_error(qb, x, ref), "w_bits": dict(bits)})
    fitting = [p for p in points if p["size_kb"] <= budget_kb]
    chosen = fitting[0] if fitting else points[-1]
    qb.w_bits.update(chosen["w_bits"])
    return dict(chosen["w_bits"]), points


def plot_tradeoff(points: list[dict[str, Any]], budget_kb: float, path: str) -> None:
    """Accuracy (mean distance / p10 where measured) and feature error vs weight size, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgevision.atomic import atomic_path

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot([p["size_kb"] for p in points], [p["feature_error"] for p in points], "o-", ms=3)
    ax[0].set_yscale("log")
    ax[0].set_xlabel("conv weights (KiB)")
    ax[0].set_ylabel("relative feature error (int network)")
    measured = [p for p in points if "mean_distance" in p]
    if measured:
        ax[1].plot([p["size_kb"] for p in measured], [p["mean_distance"] for p in measured], "o-", label="mean distance (px)")
        ax2 = ax[1].twinx()
        ax2.plot([p["size_kb"] for p in measured], [100 * p["p10"] for p in measured], "s--", color="C1", label="p10 (%)")
        ax2.set_ylabel("p10 (%)")
        ax[1].set_ylabel("mean distance, 80x60 px")
    ax[1].set_xlabel("conv weights (KiB)")
    for a in ax:
        a.axvline(budget_kb, color="grey", ls=":", label="budget")
        a.grid(alpha=0.3)
    fig.suptitle("Mixed-precision weights (8/6/4 bits): accuracy vs size")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

"""The engine's execution plan: one list of fused layers, built from an integer IR or a float backbone.

A :class:`Plan` is what both executors (the compiled CPU interpreter in :mod:`edgevision.engine.cpu` and the
batched PyTorch path in :mod:`edgevision.engine.torch_path`) run. Each :class:`PlanLayer` is one IR op with its
post-processing fused in: float layers carry BatchNorm folded into ``weight``/``bias`` and the activation as a
clamp ``[lo, hi]``; integer layers carry the IR's per-channel multiplier and shift (requantization).
Weights keep the IR layouts (conv3x3_subm [Co, 3, 3, Ci], dwconv3x3_subm [C, 3, 3], conv2x2_s2 [Co, 2, 2, Ci],
conv1x1/fc [Co, Ci]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgevision.errors import ConfigError, IRError
from edgevision.ir.ops import layer_bounds
from edgevision.ir.schema import Network, validate

SPARSE_OPS = ("conv3x3_subm", "dwconv3x3_subm", "conv2x2_s2", "conv1x1", "add")


@dataclass
class PlanLayer:
    """One fused layer. ``level`` is the resolution index of its (first) input (0 = input grid, +1 per stride)."""

    name: str
    op: str
    inputs: list[str]
    in_ch: int
    out_ch: int
    level: int
    lo: float
    hi: float
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    mult: np.ndarray | None = None  # int: per-channel multiplier (add: mult_a)
    mult_b: np.ndarray | None = None  # int add only
    shift: int = 0
    requant: bool = True  # int fc only: False -> int32 logits
    grid: tuple[int, int] = (1, 1)


@dataclass
class Plan:
    """A network ready to execute: ``mode`` is ``"float"`` (float32) or ``"int8"`` (bit-exact integer)."""

    name: str
    mode: str
    height: int
    width: int
    channels: int
    layers: list[PlanLayer]
    output: str
    levels: list[tuple[int, int]] = field(default_factory=list)  # (H, W) per resolution

    @property
    def out_layer(self) -> PlanLayer:
        return next(l for l in self.layers if l.name == self.output)


def _levels(height: int, width: int, depth: int) -> list[tuple[int, int]]:
    out = [(height, width)]
    for _ in range(depth):
        h, w = out[-1]
        out.append((-(-h // 2), -(-w // 2)))
    return out


def _assign_levels(layers: list[PlanLayer], source: str) -> int:
    """Set each layer's input level; return the deepest output level. Dense layers get level -1."""
    level_of: dict[str, int] = {"input": 0}
    deepest = 0
    for lay in layers:
        lv = [level_of[s] for s in lay.inputs]
        if len(set(lv)) != 1:
            raise IRError(f"{source}: layer {lay.name!r} ({lay.op}) joins inputs of different resolutions {lay.inputs}")
        lay.level = lv[0]
        if lay.op in ("pool", "fc"):
            if lay.op == "pool" and lay.level < 0:
                raise IRError(f"{source}: layer {lay.name!r} pools a dense vector")
            if lay.op == "fc" and lay.level >= 0:
                raise IRError(f"{source}: layer {lay.name!r} (fc) needs a pooled (dense) input")
            level_of[lay.name] = -1
        else:
            if lay.level < 0:
                raise IRError(f"{source}: sparse layer {lay.name!r} ({lay.op}) follows a dense vector")
            level_of[lay.name] = lay.level + (lay.op == "conv2x2_s2")
        deepest = max(deepest, level_of[lay.name])
    return deepest


def plan_from_ir(net: Network) -> Plan:
    """The int8 plan of an IR network (validated first); arithmetic is exactly the reference's."""
    validate(net)
    layers = []
    for lay in net.layers:
        a, t = lay.attrs, lay.tensors
        if lay.op == "fc" and not a.get("requant"):
            lo, hi = -(1 << 31), (1 << 31) - 1
        else:
            lo, hi = layer_bounds(a)
        p = PlanLayer(lay.name, lay.op, list(lay.inputs), int(a["in_ch"]), int(a["out_ch"]), 0, lo, hi)
        if "weight" in t:
            p.weight = t["weight"].astype(np.int32)
        if "bias" in t:
            p.bias = t["bias"].astype(np.int32)
        if lay.op == "add":
            p.mult, p.mult_b = t["mult_a"].astype(np.int64), t["mult_b"].astype(np.int64)
        elif "mult" in t:
            p.mult = t["mult"].astype(np.int64)
        p.shift = int(a.get("shift", 0))
        p.requant = lay.op != "fc" or bool(a.get("requant"))
        if lay.op == "pool":
            p.grid = (int(a["grid"][0]), int(a["grid"][1]))
        layers.append(p)
    depth = _assign_levels(layers, f"IR {net.name!r}")
    return Plan(net.name, "int8", net.input.height, net.input.width, net.input.channels, layers, net.output,
                _levels(net.input.height, net.input.width, depth))


_CLAMP = {"relu": (0.0, math.inf), "relu6": (0.0, 6.0), None: (-math.inf, math.inf)}


def plan_from_backbone(backbone: Any, height: int, width: int) -> Plan:
    """The float32 plan of a :class:`~edgevision.nn.backbone.SparseBackbone` on an (H, W) grid, BatchNorm folded.

    Uses the running statistics (eval-mode BatchNorm): ``w' = w * g / sqrt(var + eps)``,
    ``b' = beta - mean * g / sqrt(var + eps)``.
    """
    import torch

    from edgevision.nn.layers import AddNode, ConvNode, PoolNode, fold_bn

    layers = []
    with torch.no_grad():
        for node in backbone.nodes:
            if isinstance(node, ConvNode):
                w, b = fold_bn(node, torch.float64)
                lo, hi = _CLAMP[node.act_name]
                layers.append(PlanLayer(node.name, node.op, list(node.inputs), node.in_ch, node.out_ch, 0, lo, hi,
                                        w.float().numpy().copy(), b.float().numpy().copy()))
            elif isinstance(node, AddNode):
                lo, hi = _CLAMP[node.act_name]
                layers.append(PlanLayer(node.name, "add", list(node.inputs), 0, 0, 0, lo, hi))
            elif isinstance(node, PoolNode):
                layers.append(PlanLayer(node.name, "pool", list(node.inputs), 0, 0, 0, -math.inf, math.inf,
                                        grid=node.grid))
            else:
                raise ConfigError(f"backbone node {getattr(node, 'name', node)!r}: {type(node).__name__} is not an engine op")
    channels = {"input": int(backbone.in_channels)}
    for lay in layers:  # channel counts of add/pool come from their inputs
        if lay.op in ("add", "pool"):
            lay.in_ch = lay.out_ch = channels[lay.inputs[0]]
        channels[lay.name] = lay.out_ch
    depth = _assign_levels(layers, "backbone")
    return Plan("backbone", "float", height, width, int(backbone.in_channels), layers, layers[-1].name,
                _levels(height, width, depth))

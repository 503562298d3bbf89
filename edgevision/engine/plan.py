"""The engine's execution plan: one list of fused layers, built from an integer IR or a float backbone.

A :class:`Plan` is what both executors (the compiled CPU interpreter in :mod:`edgevision.engine.cpu` and the
batched PyTorch path in :mod:`edgevision.engine.torch_path`, which runs an int8 plan's IR on
:mod:`edgevision.quant.torch_int`) run. Levels (resolutions) and input kinds follow each op's declaration in
:data:`edgevision.ir.ops.OPS`. Each :class:`PlanLayer` is one IR op with its
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
from edgevision.ir.ops import OPS, layer_bounds
from edgevision.ir.schema import Network, validate


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
    ir: Network | None = None  # the IR an int8 plan was built from (the PyTorch path runs it on torch_int)

    @property
    def out_layer(self) -> PlanLayer:
        return next(l for l in self.layers if l.name == self.output)

    @property
    def out_dtype(self) -> type:
        """NumPy dtype of the output vector: float32 (float plan), int8, or int32 (logits of an fc without
        requantization)."""
        if self.mode == "float":
            return np.float32
        return np.int8 if self.out_layer.requant else np.int32


def _assign_levels(layers: list[PlanLayer], source: str, height: int, width: int) -> list[tuple[int, int]]:
    """Set each layer's input level (dense inputs: -1); return the (H, W) grid of every level. Where an op's
    output lies and which input it takes come from its :data:`~edgevision.ir.ops.OPS` declaration."""
    level_of: dict[str, int] = {"input": 0}
    levels = [(height, width)]
    for lay in layers:
        spec = OPS[lay.op]
        lv = [level_of[s] for s in lay.inputs]
        if len(set(lv)) != 1:
            raise IRError(f"{source}: layer {lay.name!r} ({lay.op}) joins inputs of different resolutions {lay.inputs}")
        lay.level = lv[0]
        if spec.dense_in and lay.level >= 0:
            raise IRError(f"{source}: layer {lay.name!r} ({lay.op}) needs a pooled (dense) input")
        if not spec.dense_in and lay.level < 0:
            raise IRError(f"{source}: layer {lay.name!r} ({lay.op}) follows a dense vector; it takes a sparse activation")
        if not spec.sparse_out:
            level_of[lay.name] = -1
            continue
        level_of[lay.name] = lay.level + spec.level_step
        if level_of[lay.name] == len(levels):
            levels.append(spec.out_grid(*levels[lay.level]))
    return levels


def plan_from_ir(net: Network) -> Plan:
    """The int8 plan of an IR network (validated first); arithmetic is exactly the reference's."""
    validate(net)
    layers = []
    for lay in net.layers:
        a, t = lay.attrs, lay.tensors
        requant = bool(a.get("requant", True))  # False only for an fc producing int32 logits
        lo, hi = layer_bounds(a) if requant else (-(1 << 31), (1 << 31) - 1)
        p = PlanLayer(lay.name, lay.op, list(lay.inputs), int(a["in_ch"]), int(a["out_ch"]), 0, lo, hi)
        if "weight" in t:
            p.weight = t["weight"].astype(np.int32)
        if "bias" in t:
            p.bias = t["bias"].astype(np.int32)
        mult = t.get("mult", t.get("mult_a"))  # add: mult_a, mult_b
        p.mult = None if mult is None else mult.astype(np.int64)
        p.mult_b = t["mult_b"].astype(np.int64) if "mult_b" in t else None
        p.shift = int(a.get("shift", 0))
        p.requant = requant
        if "grid" in a:
            p.grid = (int(a["grid"][0]), int(a["grid"][1]))
        layers.append(p)
    levels = _assign_levels(layers, f"IR {net.name!r}", net.input.height, net.input.width)
    return Plan(net.name, "int8", net.input.height, net.input.width, net.input.channels, layers, net.output,
                levels, ir=net)


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
                layers.append(PlanLayer(node.name, "add", list(node.inputs), 0, 0, 0, lo, hi))  # channels below
            elif isinstance(node, PoolNode):
                layers.append(PlanLayer(node.name, "pool", list(node.inputs), 0, 0, 0, -math.inf, math.inf,
                                        grid=node.grid))
            else:
                raise ConfigError(f"backbone node {getattr(node, 'name', node)!r}: {type(node).__name__} is not an engine op")
    channels = {"input": int(backbone.in_channels)}
    for lay in layers:  # add/pool nodes have no channel counts: they keep their input's
        if not lay.out_ch:
            lay.in_ch = lay.out_ch = channels[lay.inputs[0]]
        channels[lay.name] = lay.out_ch
    levels = _assign_levels(layers, "backbone", height, width)
    return Plan("backbone", "float", height, width, int(backbone.in_channels), layers, layers[-1].name, levels)

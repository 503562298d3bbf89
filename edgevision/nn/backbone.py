"""The sparse CNN backbone: a YAML layer list expanded into IR-mirroring nodes in dataflow order.

Layer forms (``backbone.layers`` in a config), applied in order to the running activation:

* ``{op: conv3x3_subm | conv1x1 | conv2x2_s2, out: C, act: relu | relu6 | null}``
* ``{op: dwconv3x3_subm, act: ...}`` (channels unchanged)
* ``{block: inverted_residual, out: C, expand: t, repeat: n, act: relu6}``: MobileNetV2 block, each repeat
  ``conv1x1 (C_in -> t * C_in, act) -> dwconv3x3_subm (act) -> conv1x1 (-> C, linear)`` plus an ``add`` with
  the block input when C_in == C
* ``{op: pool, grid: [gh, gw]}``: last layer; the feature vector has ``gh * gw * C`` entries.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgevision.errors import ConfigError
from edgevision.ir.ops import OPS
from edgevision.nn.config import EyeConfig
from edgevision.nn.layers import AddNode, ConvNode, PoolNode, Sites
from edgevision.nn.tensor import SparseTensor


class SparseBackbone(nn.Module):
    """Sparse CNN: ``forward(x, impl) -> [B, feature_dim]``; ``nodes`` in dataflow order."""

    def __init__(self, cfg: EyeConfig) -> None:
        super().__init__()
        self.in_channels = cfg.input.channels
        nodes: list[nn.Module] = []
        ch, prev = self.in_channels, "input"
        layers = cfg.backbone.layers
        for i, spec in enumerate(layers):
            where = f"backbone.layers[{i}]"
            if not isinstance(spec, dict):
                raise ConfigError(f"{where}: expected a mapping, got {spec!r}")
            if "block" in spec:
                new, ch, prev = _inverted_residual(spec, f"b{i}", ch, prev, where)
                nodes += new
                continue
            op = spec.get("op")
            if op == "pool":
                if i != len(layers) - 1:
                    raise ConfigError(f"{where}: pool must be the last layer")
                grid = spec.get("grid", [1, 1])
                if not (isinstance(grid, (list, tuple)) and len(grid) == 2 and all(int(g) >= 1 for g in grid)):
                    raise ConfigError(f"{where}: grid must be [gh, gw] with positive integers, got {grid!r}")
                nodes.append(PoolNode("pool", [prev], (int(grid[0]), int(grid[1]))))
                continue
            out = ch if op == "dwconv3x3_subm" else spec.get("out")
            if not isinstance(out, int) or out < 1:
                raise ConfigError(f"{where}: 'out' must be a positive integer, got {out!r}")
            name = f"l{i}_{op}"
            nodes.append(_conv(name, op, [prev], ch, out, spec.get("act", "relu"), where))
            ch, prev = out, name
        if not nodes or nodes[-1].op != "pool":
            raise ConfigError("backbone.layers: the last layer must be {op: pool, grid: [gh, gw]}")
        for node in nodes:
            assert node.op in OPS, f"op {node.op} is not in edgevision.ir.ops.OPS"
        self.nodes = nn.ModuleList(nodes)
        gh, gw = nodes[-1].grid
        self.out_channels = ch
        self.feature_dim = gh * gw * ch

    def forward(self, x: SparseTensor, impl: str = "torch") -> torch.Tensor:
        sites = Sites(impl)
        acts: dict[str, Any] = {"input": x}
        for node in self.nodes:
            acts[node.name] = node([acts[n] for n in node.inputs], sites)
        return acts[self.nodes[-1].name]

    def macs(self, x: SparseTensor) -> dict[str, int]:
        """Multiply-accumulates of one forward on ``x``: sparse (active sites only) and dense (every site)."""
        sites = Sites("torch")
        acts: dict[str, Any] = {"input": x}
        sparse = dense = 0
        with torch.no_grad():
            for node in self.nodes:
                xs = [acts[n] for n in node.inputs]
                acts[node.name] = node(xs, sites)
                if not isinstance(node, ConvNode):
                    continue
                src = xs[0]
                h, w = src.shape
                per_site = node.weight.numel()  # MACs of one output site with every tap active
                if node.op in ("conv3x3_subm", "dwconv3x3_subm"):
                    active = int((sites.neighbors(src) >= 0).sum())  # taps that hit an active neighbour
                    sparse += active * (per_site // 9)
                    dense += h * w * x.batch_size * per_site
                elif node.op == "conv1x1":
                    sparse += src.coords.shape[0] * per_site
                    dense += h * w * x.batch_size * per_site
                else:
                    sparse += src.coords.shape[0] * (per_site // 4)
                    dense += (-(-h // 2)) * (-(-w // 2)) * x.batch_size * per_site
        return {"sparse": sparse, "dense": dense}


def _conv(name: str, op: Any, inputs: list[str], ci: int, co: int, act: Any, where: str) -> ConvNode:
    try:
        return ConvNode(name, op, inputs, ci, co, act)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _inverted_residual(spec: dict, prefix: str, ch: int, prev: str, where: str) -> tuple[list[nn.Module], int, str]:
    if spec["block"] != "inverted_residual":
        raise ConfigError(f"{where}: unknown block {spec['block']!r}; supported: inverted_residual")
    out, expand, repeat = spec.get("out"), spec.get("expand", 4), spec.get("repeat", 1)
    act = spec.get("act", "relu6")
    for key, val in (("out", out), ("expand", expand), ("repeat", repeat)):
        if not isinstance(val, int) or val < 1:
            raise ConfigError(f"{where}: {key!r} must be a positive integer, got {val!r}")
    nodes: list[nn.Module] = []
    for r in range(repeat):
        p, hidden = f"{prefix}r{r}", ch * expand
        nodes.append(_conv(f"{p}_expand", "conv1x1", [prev], ch, hidden, act, where))
        nodes.append(_conv(f"{p}_dw", "dwconv3x3_subm", [f"{p}_expand"], hidden, hidden, act, where))
        nodes.append(_conv(f"{p}_project", "conv1x1", [f"{p}_dw"], hidden, out, None, where))
        last = f"{p}_project"
        if ch == out:
            nodes.append(AddNode(f"{p}_add", [prev, last]))
            last = f"{p}_add"
        ch, prev = out, last
    return nodes, ch, prev

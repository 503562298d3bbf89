"""One-window float inference of a :class:`~edgevision.nn.backbone.SparseBackbone` with little per-call overhead.

The training path (:mod:`edgevision.nn.layers`) is general: batches, autograd, BatchNorm modules, searchsorted
neighbour lookup. A real-time loop runs one window at a time in eval mode, where most of that is per-call
overhead on ~200 active sites. :class:`WindowBackbone` is built once from a trained backbone and computes the
same function (equal up to float rounding) with:

* BatchNorm (eval statistics) folded into each conv's weight and bias once, weights pre-transposed to [K, Co];
* activations as in-place clamps; the residual add fused into one ``add``;
* site geometry by index math on a padded dense grid in NumPy (one neighbour table and one downsampling per
  resolution, no batch dimension, no sort or search): inactive neighbours point at an all-zero feature row;
* convolutions as one gather + ``addmm`` (3x3, 2x2 stride 2, 1x1) or gather + multiply + sum (depthwise).

Geometry depends only on the input sites, so it is computed for every resolution before any feature math.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.layers import AddNode, ConvNode, PoolNode

_CLAMP = {"relu": (0.0, None), "relu6": (0.0, 6.0), None: None}


@dataclass
class _Geometry:
    """Sites of one resolution: ``nbr`` [N, 9] rows into features padded with a zero row at index N
    (3x3 ops), ``down`` (tap row into [M * 4], M) of the 2x2 stride-2 conv that leaves it, ``cells`` for pooling."""

    yx: np.ndarray
    shape: tuple[int, int]
    nbr: torch.Tensor | None = None
    taps: torch.Tensor | None = None
    n_out: int = 0


@dataclass
class _Step:
    """One node: ``kind`` in conv3x3 / dw3x3 / conv1x1 / conv2x2 / add / pool; ``src`` input slots, ``res``
    the resolution index its input lives on, folded ``weight`` / ``bias``, ``clamp`` (lo, hi) or None."""

    kind: str
    src: tuple[int, ...]
    res: int
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    clamp: tuple[float, float | None] | None = None


def _fold(node: ConvNode) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight with BatchNorm's eval scale folded in, as [K, Co] (dw: [9, C]); and the folded bias [Co]."""
    bn = node.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    w = node.weight * scale.reshape(-1, *([1] * (node.weight.dim() - 1)))
    co = w.shape[0]
    w = w.reshape(co, 9).t() if node.op == "dwconv3x3_subm" else w.reshape(co, -1).t()
    return w.contiguous(), bias.contiguous()


class WindowBackbone:
    """``backbone`` compiled for one window: ``(coords [N, 2] int (y, x) raster order, feats [N, Ci]) -> [F]``.

    Eval-mode semantics of the source backbone (BatchNorm running statistics); a snapshot of its weights at
    construction time. Thread-compatible: every call allocates its own buffers.
    """

    def __init__(self, backbone: SparseBackbone) -> None:
        if backbone.training:
            raise ValueError("WindowBackbone folds BatchNorm running statistics: call backbone.eval() first")
        self.in_channels = backbone.in_channels
        self.feature_dim = backbone.feature_dim
        slot = {"input": 0}
        res_of = {"input": 0}
        self.steps: list[_Step] = []
        self.n_res = 1
        with torch.no_grad():
            for node in backbone.nodes:
                src = tuple(slot[n] for n in node.inputs)
                res = res_of[node.inputs[0]]
                if isinstance(node, ConvNode):
                    w, b = _fold(node)
                    kind = {"conv3x3_subm": "conv3x3", "dwconv3x3_subm": "dw3x3", "conv1x1": "conv1x1",
                            "conv2x2_s2": "conv2x2"}[node.op]
                    self.steps.append(_Step(kind, src, res, w, b, _CLAMP[node.act_name]))
                    if kind == "conv2x2":
                        res = self.n_res
                        self.n_res += 1
                elif isinstance(node, AddNode):
                    self.steps.append(_Step("add", src, res, clamp=_CLAMP[node.act_name]))
                elif isinstance(node, PoolNode):
                    self.steps.append(_Step("pool", src, res))
                    self.grid = node.grid
                else:
                    raise TypeError(f"WindowBackbone: unsupported node {type(node).__name__} ({node.name})")
                slot[node.name] = len(slot)
                res_of[node.name] = res
        self.out_channels = backbone.out_channels
        self._needs_nbr = {s.res for s in self.steps if s.kind in ("conv3x3", "dw3x3")}

    def geometry(self, coords: np.ndarray, shape: tuple[int, int]) -> list[_Geometry]:
        """Neighbour tables and downsampling maps of every resolution for the input sites ``coords``."""
        geo = [_Geometry(np.asarray(coords, np.int64).reshape(-1, 2), (int(shape[0]), int(shape[1])))]
        for r in range(self.n_res):
            g = geo[r]
            y, x = g.yx[:, 0], g.yx[:, 1]
            h, w = g.shape
            n = y.shape[0]
            if r in self._needs_nbr:
                grid = np.full((h + 2) * (w + 2), n, np.int64)  # padded by one: no bounds checks
                base = (y + 1) * (w + 2) + (x + 1)
                grid[base] = np.arange(n)
                off = np.array([dy * (w + 2) + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)], np.int64)
                g.nbr = torch.from_numpy(grid[base[:, None] + off].reshape(-1))
            if r + 1 < self.n_res:
                oh, ow = -(-h // 2), -(-w // 2)
                okey = (y // 2) * ow + (x // 2)
                occupied = np.zeros(oh * ow, bool)
                occupied[okey] = True
                ukeys = np.flatnonzero(occupied)
                row = np.cumsum(occupied) - 1
                g.taps = torch.from_numpy(row[okey] * 4 + (y % 2) * 2 + (x % 2))
                g.n_out = ukeys.shape[0]
                geo.append(_Geometry(np.stack([ukeys // ow, ukeys % ow], axis=1), (oh, ow)))
        return geo

    def forward(self, coords: np.ndarray, feats: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """Feature vector [feature_dim] of one window on an (H, W) grid (``feats`` float32 [N, Ci], clipped)."""
        geo = self.geometry(coords, shape)
        acts: list[torch.Tensor] = [feats]
        for s in self.steps:
            x = acts[s.src[0]]
            g = geo[s.res]
            if s.kind == "conv1x1":
                y = torch.addmm(s.bias, x, s.weight)
            elif s.kind == "conv3x3":
                padded = torch.cat([x, x.new_zeros(1, x.shape[1])])
                y = torch.addmm(s.bias, padded.index_select(0, g.nbr).reshape(x.shape[0], 9 * x.shape[1]), s.weight)
            elif s.kind == "dw3x3":
                padded = torch.cat([x, x.new_zeros(1, x.shape[1])])
                y = (padded.index_select(0, g.nbr).reshape(x.shape[0], 9, x.shape[1]) * s.weight).sum(1).add_(s.bias)
            elif s.kind == "conv2x2":
                taps = x.new_zeros(g.n_out * 4, x.shape[1]).index_copy_(0, g.taps, x)
                y = torch.addmm(s.bias, taps.reshape(g.n_out, 4 * x.shape[1]), s.weight)
            elif s.kind == "add":
                y = x + acts[s.src[1]]
            else:
                acts.append(self._pool(x, g))
                continue
            if s.clamp is not None:
                y.clamp_(*s.clamp)
            acts.append(y)
        return acts[-1]

    def _pool(self, x: torch.Tensor, g: _Geometry) -> torch.Tensor:
        """Mean over the active sites of each grid cell (zeros for empty cells), ordered (cell_y, cell_x, c)."""
        gh, gw = self.grid
        h, w = g.shape
        cell = (g.yx[:, 0] * gh // h) * gw + g.yx[:, 1] * gw // w
        counts = np.maximum(np.bincount(cell, minlength=gh * gw), 1).astype(np.float32)
        sums = x.new_zeros(gh * gw, x.shape[1]).index_add_(0, torch.from_numpy(cell), x)
        return (sums / torch.from_numpy(counts)[:, None]).reshape(-1)

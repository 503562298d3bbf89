"""One-window float inference of a :class:`~edgevision.nn.backbone.SparseBackbone` with little per-call overhead.

The training path (:mod:`edgevision.nn.layers`) is general: batches, autograd, BatchNorm modules, searchsorted
neighbour lookup. A real-time loop runs one window at a time in eval mode, where most of that is per-call
overhead on ~200 active sites. :class:`WindowBackbone` is built once from a trained backbone and computes the
same function (equal up to float rounding) with:

* BatchNorm (eval statistics) folded into each conv's weight and bias once, weights pre-transposed to [K, Co];
* activations applied in place (``relu_``, ``clamp_``) on freshly computed outputs;
* site geometry by index math on a padded dense grid (:mod:`edgevision.nn.window_geometry`, numba: one
  neighbour table and one downsampling per resolution, no batch dimension, no sort or search); inactive
  neighbours point at an all-zero feature row appended to the features;
* convolutions as one gather + ``addmm`` (3x3, 2x2 stride 2, 1x1) or gather + multiply + sum (depthwise);
  the grid pool as one matmul with the window's mean weights.

Geometry depends only on the input sites, so it is computed for every resolution before any feature math.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.layers import AddNode, ConvNode, PoolNode, fold_bn
from edgevision.nn.window_geometry import pyramid


@dataclass
class _Geometry:
    """Sites of one resolution: ``n`` sites on an (H, W) grid; ``nbr`` [N * 9] neighbour rows (k = (dy + 1) * 3 +
    dx + 1) into the features padded with a zero row at index N (3x3 ops); ``taps`` [N] rows into the [M * 4, C]
    tap matrix of the 2x2 stride-2 conv that leaves this resolution (M = ``n_out``); ``pool`` [cells, N] mean
    weights (last resolution only)."""

    n: int
    shape: tuple[int, int]
    nbr: torch.Tensor
    taps: torch.Tensor | None = None
    n_out: int = 0
    pool: torch.Tensor | None = None


@dataclass
class _Step:
    """One node: ``kind`` in conv3x3 / dw3x3 / conv1x1 / conv2x2 / add / pool; ``src`` input slots, ``res``
    the resolution index its input lives on, folded ``weight`` / ``bias``, ``act`` relu / relu6 / None."""

    kind: str
    src: tuple[int, ...]
    res: int
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    act: str | None = None


def _fold(node: ConvNode) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight with BatchNorm's eval scale folded in, as [K, Co] (dw: [9, C]); and the folded bias [Co]."""
    w, bias = fold_bn(node)
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
                    self.steps.append(_Step(kind, src, res, w, b, node.act_name))
                    if kind == "conv2x2":
                        res = self.n_res
                        self.n_res += 1
                elif isinstance(node, AddNode):
                    self.steps.append(_Step("add", src, res, act=node.act_name))
                elif isinstance(node, PoolNode):
                    self.steps.append(_Step("pool", src, res))
                    self.grid = node.grid
                else:
                    raise TypeError(f"WindowBackbone: unsupported node {type(node).__name__} ({node.name})")
                slot[node.name] = len(slot)
                res_of[node.name] = res
        self.out_channels = backbone.out_channels

    def geometry(self, coords: np.ndarray, shape: tuple[int, int]) -> list[_Geometry]:
        """Neighbour tables, downsampling maps and pooling weights of every resolution for the sites ``coords``."""
        yx = np.asarray(coords, np.int64).reshape(-1, 2)
        h, w = int(shape[0]), int(shape[1])
        nbr, taps, sizes, pool = pyramid(np.ascontiguousarray(yx[:, 0]), np.ascontiguousarray(yx[:, 1]), h, w,
                                         self.n_res, *self.grid)
        n, f = sizes.tolist(), torch.from_numpy
        geo = []
        for r in range(self.n_res):  # slices in NumPy: a torch view op costs several us on a cold loop thread
            last = r + 1 == self.n_res
            geo.append(_Geometry(n[r], (h, w), f(nbr[r, : n[r] * 9]), None if last else f(taps[r, : n[r]]),
                                 0 if last else n[r + 1], f(pool) if last else None))
            h, w = -(-h // 2), -(-w // 2)
        return geo

    def forward(self, coords: np.ndarray, feats: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """Feature vector [feature_dim] of one window on an (H, W) grid (``feats`` float32 [N, Ci], clipped)."""
        geo = self.geometry(coords, shape)
        acts: list[torch.Tensor] = [feats]
        for s in self.steps:
            x = acts[s.src[0]]
            g = geo[s.res]
            n, c = x.shape
            if s.kind == "conv1x1":
                y = torch.addmm(s.bias, x, s.weight)
            elif s.kind == "conv3x3":
                gathered = torch.cat([x, x.new_zeros(1, c)]).index_select(0, g.nbr).reshape(n, 9 * c)
                y = torch.addmm(s.bias, gathered, s.weight)
            elif s.kind == "dw3x3":
                gathered = torch.cat([x, x.new_zeros(1, c)]).index_select(0, g.nbr).reshape(n, 9, c)
                y = gathered.mul_(s.weight).sum(1).add_(s.bias)
            elif s.kind == "conv2x2":
                taps = x.new_zeros(g.n_out * 4, c).index_copy_(0, g.taps, x)
                y = torch.addmm(s.bias, taps.reshape(g.n_out, 4 * c), s.weight)
            elif s.kind == "add":
                y = x + acts[s.src[1]]
            else:
                acts.append(torch.mm(g.pool, x).reshape(-1))
                continue
            if s.act == "relu":
                y.relu_()
            elif s.act == "relu6":
                y.clamp_(0.0, 6.0)
            acts.append(y)
        return acts[-1]

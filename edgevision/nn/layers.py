"""Network nodes that mirror the IR ops one to one (same names, inputs, weight layouts).

A node's ``forward(xs, sites)`` takes the activations of its ``inputs`` and a :class:`Sites` cache that
shares the site geometry (neighbour tables, downsampling maps, spconv index pairs) between all nodes of
one forward pass. ``sites.impl`` picks the plain-PyTorch ops (``"torch"``) or spconv (``"spconv"``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edgevision.ir.ops import OPS
from edgevision.nn import sparse_ops
from edgevision.nn.tensor import SparseTensor

ACTS = ("relu", "relu6", None)
CONV_OPS = ("conv3x3_subm", "dwconv3x3_subm", "conv2x2_s2", "conv1x1")


class Sites:
    """Per-forward cache of site geometry, keyed by the coordinate tensor of an activation."""

    def __init__(self, impl: str = "torch") -> None:
        if impl not in ("torch", "spconv"):
            raise ValueError(f"impl must be 'torch' or 'spconv', got {impl!r}")
        self.impl = impl
        self._nbr: dict[int, torch.Tensor] = {}
        self._down: dict[int, tuple] = {}
        self._sp: dict[int, object] = {}
        self._keep: list[torch.Tensor] = []  # keeps keyed tensors alive so ids stay unique

    def neighbors(self, x: SparseTensor) -> torch.Tensor:
        """The [N, 9] neighbour table of ``x``'s sites (computed once per resolution)."""
        key = id(x.coords)
        if key not in self._nbr:
            self._keep.append(x.coords)
            self._nbr[key] = sparse_ops.subm_neighbors(x.coords, x.shape)
        return self._nbr[key]

    def down(self, x: SparseTensor) -> tuple:
        """``downsample2x2`` of ``x``'s sites (computed once per resolution)."""
        key = id(x.coords)
        if key not in self._down:
            self._keep.append(x.coords)
            self._down[key] = sparse_ops.downsample2x2(x.coords, x.shape)
        return self._down[key]

    def spconv(self, x: SparseTensor):
        """``x`` as a spconv tensor that shares index pairs with every activation on the same sites."""
        key = id(x.coords)
        if key not in self._sp:
            from edgevision.nn.spconv_ops import to_spconv

            self._keep.append(x.coords)
            self._sp[key] = to_spconv(x)
        return self._sp[key].replace_feature(x.feats)

    def adopt(self, sp, x: SparseTensor) -> None:
        """Register the spconv tensor ``sp`` as the carrier of ``x``'s sites (after a strided conv)."""
        self._keep.append(x.coords)
        self._sp[id(x.coords)] = sp


def _activation(act: str | None) -> nn.Module:
    return {"relu": nn.ReLU(), "relu6": nn.ReLU6(), None: nn.Identity()}[act]


class ConvNode(nn.Module):
    """A sparse conv + BatchNorm (over active-site features, folded at export) + activation.

    ``weight`` layout per op: conv3x3_subm [Co, 3, 3, Ci]; dwconv3x3_subm [C, 3, 3]; conv2x2_s2 [Co, 2, 2, Ci];
    conv1x1 [Co, Ci].
    """

    def __init__(self, name: str, op: str, inputs: list[str], in_ch: int, out_ch: int, act: str | None) -> None:
        super().__init__()
        if op not in CONV_OPS or op not in OPS:
            raise ValueError(f"node {name!r}: op {op!r} is not a conv op of the hardware ({CONV_OPS})")
        if act not in ACTS:
            raise ValueError(f"node {name!r}: act must be one of {ACTS}, got {act!r}")
        if op == "dwconv3x3_subm" and in_ch != out_ch:
            raise ValueError(f"node {name!r}: depthwise conv needs in_ch == out_ch, got {in_ch}, {out_ch}")
        self.name, self.op, self.inputs = name, op, list(inputs)
        self.in_ch, self.out_ch, self.act_name = in_ch, out_ch, act
        shape = {
            "conv3x3_subm": (out_ch, 3, 3, in_ch),
            "dwconv3x3_subm": (out_ch, 3, 3),
            "conv2x2_s2": (out_ch, 2, 2, in_ch),
            "conv1x1": (out_ch, in_ch),
        }[op]
        fan_in = math.prod(shape[1:])
        self.weight = nn.Parameter(torch.randn(shape) * math.sqrt(2.0 / fan_in))
        self.bn = nn.BatchNorm1d(out_ch)
        self.act = _activation(act)

    def forward(self, xs: list[SparseTensor], sites: Sites) -> SparseTensor:
        (x,) = xs
        out = self._conv_spconv(x, sites) if sites.impl == "spconv" else self._conv_torch(x, sites)
        return out.replace(self.act(self.bn(out.feats)))

    def _conv_torch(self, x: SparseTensor, sites: Sites) -> SparseTensor:
        if self.op == "conv3x3_subm":
            return x.replace(sparse_ops.subm_conv3x3(x.feats, sites.neighbors(x), self.weight))
        if self.op == "dwconv3x3_subm":
            return x.replace(sparse_ops.dw_conv3x3(x.feats, sites.neighbors(x), self.weight))
        if self.op == "conv1x1":
            return x.replace(sparse_ops.conv1x1(x.feats, self.weight))
        out_coords, parent, offset, out_shape = sites.down(x)
        feats = sparse_ops.strided_conv2x2(x.feats, parent, offset, out_coords.shape[0], self.weight)
        return SparseTensor(feats, out_coords, out_shape, x.batch_size)

    def _conv_spconv(self, x: SparseTensor, sites: Sites) -> SparseTensor:
        from edgevision.nn import spconv_ops

        if self.op == "conv1x1":
            return x.replace(sparse_ops.conv1x1(x.feats, self.weight))
        sp = sites.spconv(x)
        key = f"subm{x.shape[0]}x{x.shape[1]}"
        if self.op == "conv3x3_subm":
            return x.replace(spconv_ops.subm_conv3x3(sp, self.weight, indice_key=key).features)
        if self.op == "dwconv3x3_subm":
            return x.replace(spconv_ops.dw_conv3x3(sp, self.weight, indice_key=key).features)
        out = spconv_ops.strided_conv2x2(sp, self.weight)
        y = SparseTensor(out.features, out.indices, tuple(out.spatial_shape), x.batch_size)
        sites.adopt(out, y)
        return y


def fold_bn(node: ConvNode, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BatchNorm's running statistics folded into ``node``'s conv: (weight in the IR layout, bias [Co]).

    ``w' = w * g``, ``b' = beta - mean * g`` with ``g = gamma / sqrt(var + eps)`` computed in the parameters' dtype;
    the products in ``dtype`` (default: the parameters'). Differentiable (the quantizer trains through it).
    """
    bn = node.bn
    g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w, beta, mean = node.weight, bn.bias, bn.running_mean
    if dtype is not None:
        g, w, beta, mean = g.to(dtype), w.to(dtype), beta.to(dtype), mean.to(dtype)
    return w * g.reshape(-1, *([1] * (w.dim() - 1))), beta - mean * g


class AddNode(nn.Module):
    """Residual add of two activations on the same sites, then an optional activation."""

    op = "add"

    def __init__(self, name: str, inputs: list[str], act: str | None = None) -> None:
        super().__init__()
        if len(inputs) != 2:
            raise ValueError(f"node {name!r}: add takes two inputs, got {inputs}")
        if act not in ACTS:
            raise ValueError(f"node {name!r}: act must be one of {ACTS}, got {act!r}")
        self.name, self.inputs, self.act_name = name, list(inputs), act
        self.act = _activation(act)

    def forward(self, xs: list[SparseTensor], sites: Sites) -> SparseTensor:
        a, b = xs
        return a.replace(self.act(a.feats + b.feats))


class PoolNode(nn.Module):
    """Mean over the active sites of each cell of a (gh, gw) grid -> dense [B, gh * gw * C]."""

    op = "pool"

    def __init__(self, name: str, inputs: list[str], grid: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.name, self.inputs, self.grid = name, list(inputs), (int(grid[0]), int(grid[1]))

    def forward(self, xs: list[SparseTensor], sites: Sites) -> torch.Tensor:
        (x,) = xs
        return sparse_ops.grid_pool(x.feats, x.coords, x.shape, x.batch_size, self.grid)

"""The IR run in PyTorch on int64 tensors: batched (many windows at once, CPU or CUDA), bit-exact with
:mod:`edgevision.quant.reference`.

Sparse geometry and the convolutions themselves come from :mod:`edgevision.nn.sparse_ops`; requantization and
pooling are the integer rules of :mod:`edgevision.ir.ops` on int64. Convolution accumulators are computed with
floating-point GEMMs (BLAS), which is exact here: operands are integers and every partial sum is bounded by
``fan_in * 128 * 128``, so float32 is used when that bound is below 2**24 (on CPU) and float64 (exact below
2**53) otherwise; the result is converted back to int64 before the bias and requantization.
"""

from __future__ import annotations

import torch

from edgevision.ir.ops import layer_bounds, register_ops, unsupported
from edgevision.ir.schema import Layer, Network
from edgevision.nn import sparse_ops
from edgevision.nn.tensor import SparseTensor


def requantize_t(acc: torch.Tensor, mult: torch.Tensor | int, shift: int, lo: int, hi: int) -> torch.Tensor:
    """``clip((acc * mult + (1 << (shift - 1))) >> shift, lo, hi)`` on int64 tensors (round half up)."""
    return torch.clamp((acc * mult + (1 << (shift - 1))) >> shift, lo, hi)


def pool_t(feats: torch.Tensor, coords: torch.Tensor, shape: tuple[int, int], batch_size: int, grid: tuple[int, int],
           mult: torch.Tensor, shift: int, lo: int, hi: int) -> torch.Tensor:
    """Integer grid pool of int64 ``feats`` [N, C] -> [B, gh * gw * C] (ordered cell_y, cell_x, c)."""
    sums, n = sparse_ops.grid_cell_sums(feats, coords, shape, batch_size, grid)
    n = n[:, None]
    den = n.clamp(min=1) << shift
    q = torch.div(sums * mult + (den >> 1), den, rounding_mode="floor")
    q = torch.where(n > 0, q.clamp(lo, hi), torch.zeros_like(q))
    return q.reshape(batch_size, -1)


class TorchIntNetwork:
    """An IR network ready to run on batches: ``net(x) -> int64 [B, D]`` for a SparseTensor of integer features."""

    def __init__(self, net: Network, device: torch.device | str = "cpu") -> None:
        self.net = net
        self.device = torch.device(device)
        self.tensors = {
            lay.name: {k: torch.as_tensor(v.astype("int64"), device=self.device) for k, v in lay.tensors.items()}
            for lay in net.layers
        }

    def __call__(self, x: SparseTensor, return_all: bool = False):
        """Run on ``x`` (feats integer-valued [N, C], coords [N, 3] (b, y, x) sorted); the output layer as int64
        [B, D], or with ``return_all`` every layer (SparseTensor of int64 features, or [B, D] tensors)."""
        acts: dict[str, object] = {"input": SparseTensor(x.feats.to(self.device).long(), x.coords.to(self.device), x.shape, x.batch_size)}
        nbr: dict[int, torch.Tensor] = {}
        for lay in self.net.layers:
            xs = [acts[n] for n in lay.inputs]
            acts[lay.name] = self._layer(lay, xs, nbr)
        if return_all:
            del acts["input"]
            return acts
        return acts[self.net.output]

    # the ops the chain below implements (edgevision.ir.ops registry)
    register_ops("torch_int", ("add", "pool", "fc", "conv3x3_subm", "dwconv3x3_subm", "conv1x1", "conv2x2_s2"))

    def _layer(self, lay: Layer, xs: list, nbr: dict[int, torch.Tensor]):
        t = self.tensors[lay.name]
        a = lay.attrs
        if lay.op == "add":
            p, q = xs
            lo, hi = layer_bounds(lay.attrs)
            return p.replace(requantize_t(p.feats * t["mult_a"] + q.feats * t["mult_b"], 1, int(a["shift"]), lo, hi))
        if lay.op == "pool":
            (p,) = xs
            grid = (int(a["grid"][0]), int(a["grid"][1]))
            return pool_t(p.feats, p.coords, p.shape, p.batch_size, grid, t["mult"], int(a["shift"]), *layer_bounds(a))
        if lay.op == "fc":
            (v,) = xs
            acc = v @ t["weight"].t() + t["bias"]
            if a.get("requant"):
                lo, hi = layer_bounds(lay.attrs)
                return requantize_t(acc, t["mult"], int(a["shift"]), lo, hi)
            return acc
        (p,) = xs
        w = t["weight"]
        fan_in = w[0].numel()
        dt = torch.float32 if fan_in * (1 << 14) < (1 << 24) and self.device.type == "cpu" else torch.float64
        w, p = w.to(dt), p.replace(p.feats.to(dt))
        if lay.op in ("conv3x3_subm", "dwconv3x3_subm"):
            key = id(p.coords)
            if key not in nbr:
                nbr[key] = sparse_ops.subm_neighbors(p.coords, p.shape)
            conv = sparse_ops.subm_conv3x3 if lay.op == "conv3x3_subm" else sparse_ops.dw_conv3x3
            out = p.replace(conv(p.feats, nbr[key], w))
        elif lay.op == "conv1x1":
            out = p.replace(sparse_ops.conv1x1(p.feats, w))
        elif lay.op == "conv2x2_s2":
            oc, parent, offset, oshape = sparse_ops.downsample2x2(p.coords, p.shape)
            out = SparseTensor(sparse_ops.strided_conv2x2(p.feats, parent, offset, oc.shape[0], w), oc, oshape, p.batch_size)
        else:
            raise unsupported("torch_int", lay.op)
        lo, hi = layer_bounds(lay.attrs)
        acc = torch.round(out.feats).long() + t["bias"]
        return out.replace(requantize_t(acc, t["mult"], int(a["shift"]), lo, hi))

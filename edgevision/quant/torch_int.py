"""The IR run in PyTorch on int64 tensors: batched (many windows at once, CPU or CUDA), bit-exact with
:mod:`edgevision.quant.reference`. This is the one torch integer executor: the runtime's ``torch-int`` backend,
the quantized eval models and the engine's PyTorch path for int8 plans all run it.

Each op's implementation is registered against its :data:`edgevision.ir.ops.OPS` declaration
(``register("torch_int", op, fn)``, ``fn(runner, layer, inputs, geometry) -> value``); the network is dispatched
through the registry when it is built, so an op without an implementation fails there, naming op and backend.
Sparse geometry and the convolutions themselves come from :mod:`edgevision.nn.sparse_ops`, built once per site
set (:class:`Geometry`); requantization and pooling are the integer rules of :mod:`edgevision.ir.ops` on int64.
Convolution accumulators are computed with floating-point GEMMs (BLAS), which is exact here: operands are
integers and every partial sum is bounded by ``fan_in * 128 * 128``, so float32 is used when that bound is at
most 2**24 (:func:`~edgevision.ir.ops.float32_exact`, on CPU) and float64 (exact below 2**53) otherwise; the
result is converted back to int64 before the bias and requantization.
"""

from __future__ import annotations

from typing import Any

import torch

from edgevision.ir.ops import OPS, float32_exact, implementation, layer_bounds, register
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


class Geometry:
    """The rule books of one batch, built once per site set and shared by every layer on it: the 3x3 neighbour
    table of the submanifold convs and the stride-2 maps (coords, parent, tap, shape) of ``conv2x2_s2``."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, int], tuple[torch.Tensor, Any]] = {}

    def _rule(self, build: Any, x: SparseTensor) -> Any:
        """``build(coords, shape)`` once per site set (the coords tensor itself is kept, so its id stays its own)."""
        hit = self._cache.get((build, id(x.coords)))
        if hit is None or hit[0] is not x.coords:
            hit = self._cache[(build, id(x.coords))] = (x.coords, build(x.coords, x.shape))
        return hit[1]

    def neighbors(self, x: SparseTensor) -> torch.Tensor:
        """[N, 9] neighbour table of ``x``'s sites."""
        return self._rule(sparse_ops.subm_neighbors, x)

    def downsample(self, x: SparseTensor) -> tuple:
        """``sparse_ops.downsample2x2`` of ``x``'s sites: (out coords, parent, tap, out shape)."""
        return self._rule(sparse_ops.downsample2x2, x)


class TorchIntNetwork:
    """An IR network ready to run on batches: ``net(x) -> int64 [B, D]`` for a SparseTensor of integer features."""

    def __init__(self, net: Network, device: torch.device | str = "cpu") -> None:
        self.net = net
        self.device = torch.device(device)
        self.tensors = {
            lay.name: {k: torch.as_tensor(v.astype("int64"), device=self.device) for k, v in lay.tensors.items()}
            for lay in net.layers
        }
        # dispatch once, through the registry (a missing implementation raises here, naming op and backend)
        self._steps = [(lay, implementation("torch_int", lay.op)) for lay in net.layers]
        # GEMM operands: each weight once in the narrowest float type that keeps its products exact
        self.gemm_weights: dict[str, torch.Tensor] = {}
        for lay in net.layers:
            spec = OPS[lay.op]
            if spec.weight is not None and spec.sparse_out:
                fan_in = spec.fan_in(int(lay.attrs["in_ch"]), int(lay.attrs["out_ch"]))
                exact32 = float32_exact(fan_in) and self.device.type == "cpu"
                self.gemm_weights[lay.name] = self.tensors[lay.name]["weight"].to(torch.float32 if exact32 else torch.float64)

    def __call__(self, x: SparseTensor, return_all: bool = False):
        """Run on ``x`` (feats integer-valued [N, C], coords [N, 3] (b, y, x) sorted); the output layer as int64
        [B, D], or with ``return_all`` every layer (SparseTensor of int64 features, or [B, D] tensors)."""
        acts: dict[str, Any] = {"input": x.to(self.device, torch.int64)}
        geometry = Geometry()
        for lay, fn in self._steps:
            acts[lay.name] = fn(self, lay, [acts[n] for n in lay.inputs], geometry)
        if return_all:
            del acts["input"]
            return acts
        return acts[self.net.output]

    def gemm_operand(self, lay: Layer, x: SparseTensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, weight) of a conv layer in its exact GEMM float type."""
        w = self.gemm_weights[lay.name]
        return x.feats.to(w.dtype), w

    def requantized(self, lay: Layer, out: SparseTensor) -> SparseTensor:
        """A conv's float accumulators (exact integers) -> + bias, requantized int64 features."""
        t = self.tensors[lay.name]
        acc = torch.round(out.feats).long() + t["bias"]
        return out.replace(requantize_t(acc, t["mult"], int(lay.attrs["shift"]), *layer_bounds(lay.attrs)))


# The torch integer implementation of every op of edgevision.ir.ops.OPS: fn(runner, layer, inputs, geometry).

@register("torch_int", "conv3x3_subm")
def _conv3x3(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> SparseTensor:
    feats, w = r.gemm_operand(lay, xs[0])
    return r.requantized(lay, xs[0].replace(sparse_ops.subm_conv3x3(feats, geo.neighbors(xs[0]), w)))


@register("torch_int", "dwconv3x3_subm")
def _dwconv3x3(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> SparseTensor:
    feats, w = r.gemm_operand(lay, xs[0])
    return r.requantized(lay, xs[0].replace(sparse_ops.dw_conv3x3(feats, geo.neighbors(xs[0]), w)))


@register("torch_int", "conv1x1")
def _conv1x1(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> SparseTensor:
    feats, w = r.gemm_operand(lay, xs[0])
    return r.requantized(lay, xs[0].replace(sparse_ops.conv1x1(feats, w)))


@register("torch_int", "conv2x2_s2")
def _conv2x2_s2(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> SparseTensor:
    feats, w = r.gemm_operand(lay, xs[0])
    coords, parent, tap, shape = geo.downsample(xs[0])
    acc = sparse_ops.strided_conv2x2(feats, parent, tap, coords.shape[0], w)
    return r.requantized(lay, SparseTensor(acc, coords, shape, xs[0].batch_size))


@register("torch_int", "add")
def _add(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> SparseTensor:
    p, q = xs
    t = r.tensors[lay.name]
    acc = p.feats * t["mult_a"] + q.feats * t["mult_b"]
    return p.replace(requantize_t(acc, 1, int(lay.attrs["shift"]), *layer_bounds(lay.attrs)))


@register("torch_int", "pool")
def _pool(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> torch.Tensor:
    (p,) = xs
    grid = (int(lay.attrs["grid"][0]), int(lay.attrs["grid"][1]))
    return pool_t(p.feats, p.coords, p.shape, p.batch_size, grid, r.tensors[lay.name]["mult"],
                  int(lay.attrs["shift"]), *layer_bounds(lay.attrs))


@register("torch_int", "fc")
def _fc(r: TorchIntNetwork, lay: Layer, xs: list, geo: Geometry) -> torch.Tensor:
    t = r.tensors[lay.name]
    acc = xs[0] @ t["weight"].t() + t["bias"]
    if lay.attrs.get("requant"):
        return requantize_t(acc, t["mult"], int(lay.attrs["shift"]), *layer_bounds(lay.attrs))
    return acc

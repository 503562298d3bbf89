"""The engine's batched PyTorch path (CPU or CUDA): the same :class:`~edgevision.engine.plan.Plan`, many windows
per call, through the public ops of :mod:`edgevision.nn.sparse_ops`.

An int8 plan runs its IR on the one torch integer executor, :class:`edgevision.quant.torch_int.TorchIntNetwork`
(bit-exact with the NumPy reference); the output is cast to the plan's int8 / int32 (logits) dtype.
A float plan (BatchNorm folded into the weights, activations as clamps) runs here, each op dispatched through
the registry of :mod:`edgevision.ir.ops` (``register("engine_torch", op, fn)``,
``fn(engine, layer, inputs, geometry) -> value``); geometry (neighbour table, stride-2 maps) is built once per
resolution and shared by every layer there (:class:`~edgevision.quant.torch_int.Geometry`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from edgevision.engine.plan import Plan, PlanLayer
from edgevision.errors import IRError
from edgevision.ir.ops import implementation, register
from edgevision.nn import sparse_ops
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.torch_int import Geometry, TorchIntNetwork

_TORCH_DTYPES = {np.int8: torch.int8, np.int32: torch.int32, np.float32: torch.float32}


class TorchEngine:
    """``run(x: SparseTensor) -> [B, F]`` for a float (float32) or int8 (exact, int8/int32 output) plan."""

    def __init__(self, plan: Plan, device: str | torch.device = "cpu") -> None:
        self.plan = plan
        self.device = torch.device(device)
        self.exact = plan.mode == "int8"
        self.out_dtype = _TORCH_DTYPES[plan.out_dtype]
        if self.exact:
            if plan.ir is None:
                raise IRError(f"plan {plan.name!r}: an int8 plan for the PyTorch path is built by plan_from_ir")
            self._int = TorchIntNetwork(plan.ir, self.device)
            return
        self.tensors: dict[str, dict[str, torch.Tensor]] = {}
        for lay in plan.layers:
            arrays = {"weight": lay.weight, "bias": lay.bias}
            if lay.weight is not None and lay.weight.ndim == 2:  # [Co, Ci] (conv1x1, fc): [Ci, Co] for addmm
                arrays["weight_t"] = np.ascontiguousarray(lay.weight.T)
            self.tensors[lay.name] = {k: torch.as_tensor(v, dtype=torch.float32, device=self.device)
                                      for k, v in arrays.items() if v is not None}
        self._steps = [(lay, implementation("engine_torch", lay.op)) for lay in plan.layers]

    @torch.inference_mode()
    def run(self, x: SparseTensor) -> torch.Tensor:
        """A batch of windows (coords [N, 3] (b, y, x) sorted, feats [N, C]) -> output [B, F]."""
        if self.exact:
            return self._int(x).to(self.out_dtype)
        acts: dict[str, Any] = {"input": x.to(self.device, torch.float32)}
        geometry = Geometry()
        for lay, fn in self._steps:
            acts[lay.name] = fn(self, lay, [acts[n] for n in lay.inputs], geometry)
        return acts[self.plan.output]


def _clamp(lay: PlanLayer, acc: torch.Tensor) -> torch.Tensor:
    """The fused activation: clamp to the layer's [lo, hi] (infinite bounds are left open)."""
    lo = None if math.isinf(lay.lo) else lay.lo
    hi = None if math.isinf(lay.hi) else lay.hi
    return acc if lo is None and hi is None else acc.clamp(lo, hi)


# The float implementation of every op of edgevision.ir.ops.OPS: fn(engine, layer, inputs, geometry).

@register("engine_torch", "conv3x3_subm")
def _conv3x3(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> SparseTensor:
    t = e.tensors[lay.name]
    return xs[0].replace(_clamp(lay, sparse_ops.subm_conv3x3(xs[0].feats, geo.neighbors(xs[0]), t["weight"]) + t["bias"]))


@register("engine_torch", "dwconv3x3_subm")
def _dwconv3x3(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> SparseTensor:
    t = e.tensors[lay.name]
    return xs[0].replace(_clamp(lay, sparse_ops.dw_conv3x3(xs[0].feats, geo.neighbors(xs[0]), t["weight"]) + t["bias"]))


@register("engine_torch", "conv2x2_s2")
def _conv2x2_s2(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> SparseTensor:
    t = e.tensors[lay.name]
    coords, parent, tap, shape = geo.downsample(xs[0])
    acc = sparse_ops.strided_conv2x2(xs[0].feats, parent, tap, coords.shape[0], t["weight"]) + t["bias"]
    return SparseTensor(_clamp(lay, acc), coords, shape, xs[0].batch_size)


@register("engine_torch", "conv1x1")
def _conv1x1(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> SparseTensor:
    t = e.tensors[lay.name]
    return xs[0].replace(_clamp(lay, torch.addmm(t["bias"], xs[0].feats, t["weight_t"])))


@register("engine_torch", "add")
def _add(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> SparseTensor:
    return xs[0].replace(_clamp(lay, xs[0].feats + xs[1].feats))


@register("engine_torch", "pool")
def _pool(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> torch.Tensor:
    (p,) = xs
    return sparse_ops.grid_pool(p.feats, p.coords, p.shape, p.batch_size, lay.grid)


@register("engine_torch", "fc")
def _fc(e: TorchEngine, lay: PlanLayer, xs: list, geo: Geometry) -> torch.Tensor:
    t = e.tensors[lay.name]
    return _clamp(lay, torch.addmm(t["bias"], xs[0], t["weight_t"]))

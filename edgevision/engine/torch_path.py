"""The engine's batched PyTorch path (CPU or CUDA): the same :class:`~edgevision.engine.plan.Plan`, many windows
per call, through the public ops of :mod:`edgevision.nn.sparse_ops`.

Geometry (neighbour table, stride-2 maps) is computed once per resolution and shared by every layer there;
BatchNorm is already folded into the plan's weights, pointwise convs fuse their bias (``addmm``). The int8 plan
runs on float64 tensors holding exact integers (every accumulator is far below 2**53, so float64 matmuls are
exact on CPU and CUDA alike) and requantizes in int64 with the IR's rule: bit-exact with the NumPy reference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from edgevision.engine.plan import Plan, PlanLayer
from edgevision.ir.ops import unsupported
from edgevision.nn import sparse_ops
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.torch_int import pool_t, requantize_t


def _weight(op: str, w: np.ndarray) -> np.ndarray:
    """The plan's IR layout -> what the sparse_ops functions take (conv1x1/fc transposed once for addmm)."""
    return w.T if op in ("conv1x1", "fc") else w


class TorchEngine:
    """``run(x: SparseTensor) -> [B, F]`` for a float (float32) or int8 (exact, int8/int32 output) plan."""

    def __init__(self, plan: Plan, device: str | torch.device = "cpu") -> None:
        self.plan = plan
        self.device = torch.device(device)
        self.exact = plan.mode == "int8"
        self.dtype = torch.float64 if self.exact else torch.float32
        self._t: dict[str, dict[str, torch.Tensor]] = {}
        for lay in plan.layers:
            t = {}
            if lay.weight is not None:
                t["weight"] = torch.as_tensor(np.ascontiguousarray(_weight(lay.op, lay.weight)), dtype=self.dtype, device=self.device)
            if lay.bias is not None:
                t["bias"] = torch.as_tensor(lay.bias, dtype=self.dtype, device=self.device)
            for name in ("mult", "mult_b"):
                arr = getattr(lay, name)
                if arr is not None:
                    t[name] = torch.as_tensor(arr, dtype=torch.int64, device=self.device)
            self._t[lay.name] = t

    def _finish(self, lay: PlanLayer, acc: torch.Tensor) -> torch.Tensor:
        """Float: clamp to [lo, hi]. Int: requantize ``acc`` (bias already added) and clip."""
        if not self.exact:
            lo = None if math.isinf(lay.lo) else lay.lo
            hi = None if math.isinf(lay.hi) else lay.hi
            return acc if lo is None and hi is None else acc.clamp(lo, hi)
        return requantize_t(acc.round().long(), self._t[lay.name]["mult"], lay.shift, int(lay.lo), int(lay.hi)).to(self.dtype)

    @torch.inference_mode()
    def run(self, x: SparseTensor) -> torch.Tensor:
        """A batch of windows (coords [N, 3] (b, y, x) sorted, feats [N, C]) -> output [B, F]."""
        acts: dict[str, Any] = {"input": SparseTensor(x.feats.to(self.device, self.dtype), x.coords.to(self.device),
                                                       tuple(x.shape), x.batch_size)}
        nbrs: dict[int, torch.Tensor] = {}
        downs: dict[int, tuple] = {}
        for lay in self.plan.layers:
            src = acts[lay.inputs[0]]
            t = self._t[lay.name]
            if lay.op in ("conv3x3_subm", "dwconv3x3_subm"):
                if lay.level not in nbrs:
                    nbrs[lay.level] = sparse_ops.subm_neighbors(src.coords, src.shape)
                fn = sparse_ops.subm_conv3x3 if lay.op == "conv3x3_subm" else sparse_ops.dw_conv3x3
                y = src.replace(self._finish(lay, fn(src.feats, nbrs[lay.level], t["weight"]) + t["bias"]))
            elif lay.op == "conv2x2_s2":
                if lay.level not in downs:
                    downs[lay.level] = sparse_ops.downsample2x2(src.coords, src.shape)
                coords, parent, offset, shape = downs[lay.level]
                acc = sparse_ops.strided_conv2x2(src.feats, parent, offset, coords.shape[0], t["weight"]) + t["bias"]
                y = SparseTensor(self._finish(lay, acc), coords, shape, src.batch_size)
            elif lay.op == "conv1x1":
                y = src.replace(self._finish(lay, torch.addmm(t["bias"], src.feats, t["weight"])))
            elif lay.op == "add":
                b = acts[lay.inputs[1]]
                if self.exact:
                    acc = src.feats.long() * t["mult"] + b.feats.long() * t["mult_b"]
                    y = src.replace(requantize_t(acc, 1, lay.shift, int(lay.lo), int(lay.hi)).to(self.dtype))
                else:
                    y = src.replace(self._finish(lay, src.feats + b.feats))
            elif lay.op == "pool":
                y = self._pool(lay, src)
            elif lay.op == "fc":  # on [B, F]
                acc = torch.addmm(t["bias"], src, t["weight"])
                y = self._finish(lay, acc) if lay.requant else acc
            else:
                raise unsupported("engine", lay.op)
            acts[lay.name] = y
        out = acts[self.plan.output]
        if not self.exact:
            return out
        lay = self.plan.out_layer
        return out.round().to(torch.int32 if lay.op == "fc" and not lay.requant else torch.int8)

    def _pool(self, lay: PlanLayer, x: SparseTensor) -> torch.Tensor:
        if not self.exact:
            return sparse_ops.grid_pool(x.feats, x.coords, x.shape, x.batch_size, lay.grid)
        q = pool_t(x.feats.round().long(), x.coords, x.shape, x.batch_size, lay.grid, self._t[lay.name]["mult"],
                   lay.shift, int(lay.lo), int(lay.hi))
        return q.to(self.dtype)

"""The compiled CPU engine: a :class:`~edgevision.engine.plan.Plan` packed into flat arrays for one numba call.

``compile_ir(net)`` (int8, bit-exact with :func:`edgevision.quant.reference.run_network`) and
``compile_float(backbone, (H, W))`` (float32, BatchNorm folded) both return an :class:`Engine`;
``Engine.run(coords, feats)`` takes one window (coords int32 [N, 2] (y, x) in raster order, feats [N, C]) and
returns the output vector. The first call of a process compiles (or loads the cached) kernels; call
:meth:`Engine.warmup` before timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgevision.engine import kernels as K
from edgevision.engine.plan import Plan, plan_from_backbone, plan_from_ir
from edgevision.errors import EventValidationError, IRError
from edgevision.ir.ops import OPS, float32_exact, implementation, register
from edgevision.ir.schema import Network


@dataclass(frozen=True)
class KernelOp:
    """The engine's implementation of an op (registered against its :data:`~edgevision.ir.ops.OPS` declaration):
    its code in the compiled interpreter (:func:`edgevision.engine.kernels.run_program`) and whether it reads
    its level's 3x3 neighbour table."""

    code: int
    neighbors: bool = False


for _op, _impl in {"conv3x3_subm": KernelOp(K.CONV3, True), "dwconv3x3_subm": KernelOp(K.DW3, True),
                   "conv2x2_s2": KernelOp(K.DOWN2), "conv1x1": KernelOp(K.PW), "add": KernelOp(K.ADD),
                   "pool": KernelOp(K.POOL), "fc": KernelOp(K.FC)}.items():
    register("engine", _op, _impl)


def _kernel_weight(w: np.ndarray) -> np.ndarray:
    """IR layout (every op's weight is output channel first, :data:`~edgevision.ir.ops.OPS`) -> the kernel's
    row-major layout with the output channel last: [taps, Ci, Co] (conv3x3_subm, conv2x2_s2; flat the same as
    [kh, kw, Ci, Co]), [9, C] (dwconv3x3_subm), [Ci, Co] (conv1x1, fc)."""
    return np.moveaxis(w, 0, -1)


def _float32_exact(plan: Plan) -> bool:
    """True when an int8 plan is exact in float32: every sparse layer's GEMM sums at most 1024 int8 x int8
    products (:func:`~edgevision.ir.ops.float32_exact` of the op's fan-in) and every bias (held in the
    parameter array) is at most 2**24 in magnitude. The kernel's fc accumulates in int64."""
    for lay in plan.layers:
        spec = OPS[lay.op]
        if spec.sparse_out and not float32_exact(spec.fan_in(lay.in_ch, lay.out_ch)):
            return False
        if lay.bias is not None and lay.bias.size and int(np.abs(lay.bias.astype(np.int64)).max()) > 1 << 24:
            return False
    return True


class Engine:
    """A network packed for :func:`edgevision.engine.kernels.run_program`; ``run`` is one compiled call."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.mode = 0 if plan.mode == "float" else 1
        dtype = np.float32 if self.mode == 0 or _float32_exact(plan) else np.float64
        act_ids = {"input": 0}
        act_level, act_size = [0], [plan.channels]
        out_level = {"input": 0}
        ops = np.zeros((len(plan.layers), K.N_FIELDS), np.int64)
        bounds = np.zeros((len(plan.layers), 2), np.float64)
        params: list[np.ndarray] = []
        mults: list[np.ndarray] = []
        p_len = m_len = 0
        need_nbr = np.zeros(len(plan.levels), np.uint8)
        for li, lay in enumerate(plan.layers):
            row = ops[li]
            impl = implementation("engine", lay.op)
            spec = OPS[lay.op]
            row[K.F_OP] = impl.code
            row[K.F_IN0] = act_ids[lay.inputs[0]]
            row[K.F_IN1] = act_ids[lay.inputs[1]] if len(lay.inputs) > 1 else 0
            row[K.F_LEVEL] = lay.level
            row[K.F_CI], row[K.F_CO] = lay.in_ch, lay.out_ch
            row[K.F_SHIFT], row[K.F_REQ] = lay.shift, int(lay.requant)
            row[K.F_GH], row[K.F_GW] = lay.grid
            bounds[li] = (lay.lo, lay.hi)
            for field, arr in ((K.F_W, None if lay.weight is None else _kernel_weight(lay.weight)),
                               (K.F_B, lay.bias)):
                if arr is not None:
                    row[field] = p_len
                    params.append(np.ascontiguousarray(arr, dtype).reshape(-1))
                    p_len += params[-1].size
            for field, arr in ((K.F_M, lay.mult), (K.F_M2, lay.mult_b)):
                if arr is not None:
                    row[field] = m_len
                    mults.append(np.asarray(arr, np.int64).reshape(-1))
                    m_len += mults[-1].size
            if impl.neighbors:
                need_nbr[lay.level] = 1
            out_level[lay.name] = lay.level + spec.level_step if spec.sparse_out else -1
            size = lay.out_ch * lay.grid[0] * lay.grid[1]  # grid (1, 1) except for a grid pool
            act_ids[lay.name] = len(act_level)
            row[K.F_OUT] = act_ids[lay.name]
            act_level.append(out_level[lay.name])
            act_size.append(size)
        self._ops, self._bounds = ops, bounds
        self._params = np.concatenate(params) if params else np.zeros(1, dtype)
        self._mults = np.concatenate(mults) if mults else np.zeros(1, np.int64)
        self._act_level = np.asarray(act_level, np.int64)
        self._act_size = np.asarray(act_size, np.int64)
        self._level_hw = np.asarray(plan.levels, np.int64).reshape(-1, 2)
        self._need_nbr = need_nbr
        self._scratch = np.full(int(max(h * w for h, w in plan.levels)), -1, np.int32)
        self._out_act = act_ids[plan.output]
        self._in_dtype = dtype
        self.out_dtype = plan.out_dtype

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the input grid."""
        return self.plan.height, self.plan.width, self.plan.channels

    def run(self, coords: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """One window -> output vector (float32; int8, or int32 logits for an fc without requantization)."""
        coords = np.ascontiguousarray(coords, np.int32)
        feats = np.asarray(feats)
        if self.mode == 1 and feats.dtype != np.int8 and feats.size and (feats.min() < -128 or feats.max() > 127):
            raise EventValidationError("engine input: an int8 network takes features in [-128, 127]; quantize them first")
        feats = np.ascontiguousarray(feats, self._in_dtype)
        c = self.plan.channels
        if coords.ndim != 2 or coords.shape[1] != 2 or feats.shape != (coords.shape[0], c):
            raise EventValidationError(f"engine input: coords must be [N, 2] and feats [N, {c}], got {coords.shape} and {feats.shape}")
        status, out = K.run_program(coords, feats, self._ops, self._bounds, self._params, self._mults,
                                    self._act_level, self._act_size, self._level_hw, self._need_nbr, self._scratch,
                                    self.mode, self._out_act)
        if status == K.ERR_RANGE:
            raise EventValidationError(f"engine input: coordinates outside the {self.plan.height}x{self.plan.width} grid")
        if status == K.ERR_ORDER:
            raise EventValidationError("engine input: sites must be unique and in raster order (sort by y, then x)")
        if status == K.ERR_OVERFLOW:
            raise IRError(f"layer {self.plan.output!r} (fc): accumulator overflows int32")
        return out.astype(self.out_dtype, copy=False)

    def warmup(self) -> Engine:
        """Compile (or load from numba's cache) and run once on a tiny window."""
        h, w, c = self.input_shape
        self.run(np.array([[0, 0], [h - 1, w - 1]], np.int32)[: 1 + (h * w > 1)],
                 np.ones((1 + (h * w > 1), c), self._in_dtype))
        return self

    def describe(self) -> dict[str, Any]:
        """Mode, grid, levels and layer count (for reports)."""
        return {"name": self.plan.name, "mode": self.plan.mode, "input": list(self.input_shape),
                "levels": [list(l) for l in self.plan.levels], "layers": len(self.plan.layers)}


def compile_ir(net: Network) -> Engine:
    """An int8 engine for an IR network, bit-exact with the NumPy integer reference."""
    return Engine(plan_from_ir(net))


def compile_float(backbone: Any, shape: tuple[int, int]) -> Engine:
    """A float32 engine for a :class:`~edgevision.nn.backbone.SparseBackbone` on an (H, W) input grid."""
    return Engine(plan_from_backbone(backbone, int(shape[0]), int(shape[1])))

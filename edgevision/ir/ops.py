"""The operations the sparse dataflow hardware implements: written once, checked on every export.

Conventions shared by the torch model, the NumPy integer reference, the compiled engine and the HLS code:

* A sparse activation is a set of active sites (y, x) in raster order on an (H, W) grid, each with a
  C-channel int8 feature vector. Real value = q * scale, zero point 0 (symmetric).
* Requantization (one rounding rule everywhere, round half up, int64 arithmetic, arithmetic shift):
  ``requant(acc, M, S, lo, hi) = clip((acc * M + (1 << (S - 1))) >> S, lo, hi)`` with a per-output-channel
  int32 multiplier ``M >= 0`` and a per-layer shift ``S >= 1``. ``lo = 0`` after ReLU, else ``-2**(bits-1)``;
  ``hi = act_max`` (``2**(bits-1) - 1``, or the quantized 6.0 for ReLU6).
* Convolutions: ``acc = sum(w * x) + bias`` in int32 (int64 in the reference), weights int8 per output channel.

Ops (``OPS`` below is the authoritative list; tensor shapes use Co/Ci output/input channels):

``conv3x3_subm``  submanifold 3x3 conv, weight [Co, 3, 3, Ci] (index [o, dy+1, dx+1, i] multiplies the input at
                  (y+dy, x+dx)), bias [Co], mult [Co]. Output sites = input sites.
``dwconv3x3_subm`` depthwise submanifold 3x3, weight [C, 3, 3], bias [C], mult [C]. Output sites = input sites.
``conv2x2_s2``     strided sparse conv, kernel 2, stride 2, weight [Co, 2, 2, Ci]: output site (Y, X) is active when
                  any input site (2Y+dy, 2X+dx), dy, dx in {0, 1}, is; grid becomes (ceil(H/2), ceil(W/2)).
``conv1x1``        pointwise conv, weight [Co, Ci], bias [Co], mult [Co]. Output sites = input sites.
``add``            residual add of two activations with identical site sets: ``requant(a * Ma + b * Mb, 1, S)``
                  i.e. ``clip((a*Ma + b*Mb + (1 << (S-1))) >> S)``; mult_a [C], mult_b [C].
``pool``           average over the active sites of each cell of a (gh, gw) grid (gh = gw = 1: global average
                  pool). Site (y, x) falls in cell (y * gh // H, x * gw // W). Output is a dense int8 vector of
                  length gh * gw * C ordered (cell_y, cell_x, c) (``out_ch`` = C; a following fc has in_ch = gh * gw * C): ``floor((sum * M + ((n << S) >> 1)) / (n << S))``
                  clipped, n = active sites in the cell, 0 for an empty cell; mult [C].
``fc``             fully connected on a dense vector, weight [Co, Ci], bias [Co]; with ``requant`` true it also has
                  mult [Co] and produces int8, otherwise it produces the int32 accumulator (logits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Shape = Callable[[int, int], tuple[int, ...]]


@dataclass(frozen=True)
class OpSpec:
    """What an op needs, declared once: its tensors (name -> rank), the weight shape as a function of
    (in_ch, out_ch), its attributes, how many inputs it has, whether they are dense vectors (``dense_in``; else
    sparse activations) and its output geometry: ``grid`` is ``"same"`` (output sites = input sites), ``"half"``
    (kernel-2 stride-2: grid ceil(H/2) x ceil(W/2)) or ``"dense"`` (a dense vector; ``sparse_out`` False)."""

    tensors: dict[str, int]
    attrs: tuple[str, ...]
    n_inputs: int = 1
    grid: str = "same"
    weight: Shape | None = None
    dense_in: bool = False

    @property
    def sparse_out(self) -> bool:
        """False once the activation is a dense vector."""
        return self.grid != "dense"

    def out_grid(self, h: int, w: int) -> tuple[int, int]:
        """The (H, W) grid of the output of an input on an (h, w) grid (a dense vector keeps its input's)."""
        return (-(-h // 2), -(-w // 2)) if self.grid == "half" else (h, w)

    @property
    def level_step(self) -> int:
        """Resolution levels the output lies below the input (1 for a stride-2 op, else 0)."""
        return int(self.grid == "half")

    def fan_in(self, in_ch: int, out_ch: int) -> int:
        """Products summed into one output value (weight elements per output channel); 0 without weights."""
        return 0 if self.weight is None else math.prod(self.weight(in_ch, out_ch)[1:])


def float32_exact(products: int) -> bool:
    """True when any sum of ``products`` int8 x int8 products is exact in float32, whatever the summation order:
    every partial sum stays within ``products * 2**14 <= 2**24`` (at most 1024 products)."""
    return products * (1 << 14) <= 1 << 24


_REQ = ("shift", "relu", "act_max", "scale", "bits")


def _conv(weight: Shape, grid: str = "same") -> OpSpec:
    return OpSpec({"weight": len(weight(1, 1)), "bias": 1, "mult": 1}, ("in_ch", "out_ch") + _REQ, grid=grid, weight=weight)


OPS: dict[str, OpSpec] = {
    "conv3x3_subm": _conv(lambda ci, co: (co, 3, 3, ci)),
    "dwconv3x3_subm": _conv(lambda ci, co: (co, 3, 3)),
    "conv2x2_s2": _conv(lambda ci, co: (co, 2, 2, ci), grid="half"),
    "conv1x1": _conv(lambda ci, co: (co, ci)),
    "add": OpSpec({"mult_a": 1, "mult_b": 1}, ("in_ch", "out_ch") + _REQ, n_inputs=2),
    "pool": OpSpec({"mult": 1}, ("in_ch", "out_ch", "grid") + _REQ, grid="dense"),
    "fc": OpSpec({"weight": 2, "bias": 1}, ("in_ch", "out_ch", "requant", "scale"), grid="dense",
                 weight=lambda ci, co: (co, ci), dense_in=True),
}

# Which backend implements which op. Each backend registers its ops where its per-op code is; "engine" is the
# compiled CPU engine, "engine_torch" the engine's PyTorch path for float plans (its int8 plans run torch_int)
# (tests/ir/test_op_registry.py checks every op against every backend, known gaps declared there).
BACKENDS = ("reference", "torch_int", "engine", "engine_torch", "hls", "fpga_model", "rtl", "qonnx")
_IMPLS: dict[str, dict[str, Any]] = {b: {} for b in BACKENDS}


def register(backend: str, op: str, fn: Any = None) -> Any:
    """Record that ``backend`` implements ``op`` (optionally with ``fn``); usable as ``@register(backend, op)``.
    Unknown backends or ops raise ``KeyError``."""
    if backend not in _IMPLS:
        raise KeyError(f"unknown backend {backend!r}; backends are {BACKENDS}")
    if op not in OPS:
        raise KeyError(f"backend {backend!r} registers unknown op {op!r}; ops are {sorted(OPS)}")
    if fn is not None:
        _IMPLS[backend][op] = fn
        return fn

    def deco(f: Any) -> Any:
        _IMPLS[backend][op] = f
        return f

    _IMPLS[backend].setdefault(op, None)
    return deco


def register_ops(backend: str, ops: tuple[str, ...] | list[str]) -> None:
    """:func:`register` each of ``ops`` for ``backend`` without a function (backends dispatching in a chain)."""
    for op in ops:
        register(backend, op)


def implementation(backend: str, op: str) -> Any:
    """The function ``backend`` registered for ``op``; ``NotImplementedError`` naming both when there is none."""
    fn = _IMPLS.get(backend, {}).get(op)
    if fn is None:
        raise unsupported(backend, op)
    return fn


def implementations(backend: str) -> set[str]:
    """The ops ``backend`` has registered."""
    return set(_IMPLS[backend])


def missing(backend: str) -> list[str]:
    """The ops of :data:`OPS` that ``backend`` has not registered, sorted."""
    return sorted(set(OPS) - set(_IMPLS[backend]))


def unsupported(backend: str, op: str) -> NotImplementedError:
    """The error a backend's dispatch raises for an op it does not implement."""
    return NotImplementedError(f"backend {backend!r} has no implementation of op {op!r} (implemented: "
                               f"{sorted(_IMPLS.get(backend, {}))})")


def requant_bounds(relu: bool, act_max: int, bits: int = 8) -> tuple[int, int]:
    """The clip range ``(lo, hi)`` of a requantized activation."""
    return (0 if relu else -(1 << (bits - 1)), int(act_max))


def layer_bounds(attrs: Mapping[str, Any]) -> tuple[int, int]:
    """:func:`requant_bounds` of a layer's attributes (``relu`` False, ``act_max`` 127, ``bits`` 8 when absent)."""
    return requant_bounds(bool(attrs.get("relu", False)), int(attrs.get("act_max", 127)), int(attrs.get("bits", 8)))

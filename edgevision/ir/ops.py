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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OpSpec:
    """What an op needs: its tensors (name -> rank), its attributes and how many inputs it has."""

    tensors: dict[str, int]
    attrs: tuple[str, ...]
    n_inputs: int = 1
    sparse_out: bool = True  # False once the activation is a dense vector


_REQ = ("shift", "relu", "act_max", "scale", "bits")
OPS: dict[str, OpSpec] = {
    "conv3x3_subm": OpSpec({"weight": 4, "bias": 1, "mult": 1}, ("in_ch", "out_ch") + _REQ),
    "dwconv3x3_subm": OpSpec({"weight": 3, "bias": 1, "mult": 1}, ("in_ch", "out_ch") + _REQ),
    "conv2x2_s2": OpSpec({"weight": 4, "bias": 1, "mult": 1}, ("in_ch", "out_ch") + _REQ),
    "conv1x1": OpSpec({"weight": 2, "bias": 1, "mult": 1}, ("in_ch", "out_ch") + _REQ),
    "add": OpSpec({"mult_a": 1, "mult_b": 1}, ("in_ch", "out_ch") + _REQ, n_inputs=2),
    "pool": OpSpec({"mult": 1}, ("in_ch", "out_ch", "grid") + _REQ, sparse_out=False),
    "fc": OpSpec({"weight": 2, "bias": 1}, ("in_ch", "out_ch", "requant", "scale"), sparse_out=False),
}


def requant_bounds(relu: bool, act_max: int, bits: int = 8) -> tuple[int, int]:
    """The clip range ``(lo, hi)`` of a requantized activation."""
    return (0 if relu else -(1 << (bits - 1)), int(act_max))


def layer_bounds(attrs: Mapping[str, Any]) -> tuple[int, int]:
    """:func:`requant_bounds` of a layer's attributes (``relu`` False, ``act_max`` 127, ``bits`` 8 when absent)."""
    return requant_bounds(bool(attrs.get("relu", False)), int(attrs.get("act_max", 127)), int(attrs.get("bits", 8)))

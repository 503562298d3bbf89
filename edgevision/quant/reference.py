"""The NumPy integer reference: runs an IR :class:`~edgevision.ir.schema.Network` on one window, bit for bit.

Every other consumer (torch integer path, fake-quant eval model, HLS C simulation, engine) is checked against
this module. Semantics are those of :mod:`edgevision.ir.ops`; arithmetic is int64 throughout, neighbour lookup
is one ``searchsorted`` on raster keys ``y * W + x`` per kernel offset, and no Python loop runs over sites.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgevision.errors import EventValidationError, IRError
from edgevision.ir.ops import OPS, implementation, layer_bounds, register
from edgevision.ir.schema import InputSpec, Layer, Network
from edgevision.quant.requant import pool_average, requantize, round_half_up

OFFSETS_3X3 = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=np.int64)  # k = (dy+1)*3 + dx+1

Sparse = tuple[np.ndarray, np.ndarray]  # (coords int32 [N, 2] (y, x), int array [N, C])


def quantize_input(feats_float: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Float features [N, C] -> int8: ``q = clip(round_half_up(x / spec.scale), -2**(bits-1), 2**(bits-1) - 1)``.

    Ties round towards +inf (``floor(x / scale + 0.5)``), the rule of the requantizer.
    """
    lim = 1 << (int(spec.bits) - 1)
    q = round_half_up(np.asarray(feats_float, dtype=np.float64) / float(spec.scale))
    return np.clip(q, -lim, lim - 1).astype(np.int8)


def quantize_counts(counts: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Event counts [N, C] of a window -> the int8 network input: clipped at ``spec.input_clip``, then
    :func:`quantize_input`."""
    return quantize_input(np.minimum(counts, spec.input_clip), spec)


def neighbor_table(coords: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """[N, 9] index of the active site at each 3x3 offset of every site (column ``(dy+1)*3 + dx+1``), -1 if none."""
    h, w = shape
    c = coords.astype(np.int64)
    keys = c[:, 0] * w + c[:, 1]
    ny = c[:, :1] + OFFSETS_3X3[:, 0]
    nx = c[:, 1:] + OFFSETS_3X3[:, 1]
    inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    q = ny * w + nx
    pos = np.minimum(np.searchsorted(keys, q), max(len(keys) - 1, 0))
    found = inside & (keys[pos] == q) if len(keys) else inside
    return np.where(found, pos, -1)


def gather_neighbors(feats: np.ndarray, nbr: np.ndarray) -> np.ndarray:
    """[N, 9, C] int64 features of the 3x3 neighbours (zero where inactive)."""
    padded = np.concatenate([feats.astype(np.int64), np.zeros((1, feats.shape[1]), np.int64)])
    return padded[np.where(nbr < 0, feats.shape[0], nbr)]


def downsample_sites(coords: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Kernel-2 stride-2 geometry: (out coords [M, 2] raster order, parent [N], tap [N] = (y%2)*2 + x%2, out shape)."""
    oh, ow = OPS["conv2x2_s2"].out_grid(*shape)
    c = coords.astype(np.int64)
    okeys, parent = np.unique((c[:, 0] // 2) * ow + c[:, 1] // 2, return_inverse=True)
    out = np.stack([okeys // ow, okeys % ow], axis=1).astype(np.int32)
    return out, parent.reshape(-1), (c[:, 0] % 2) * 2 + (c[:, 1] % 2), (oh, ow)


def pool_cells(coords: np.ndarray, shape: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """Cell index ``cy * gw + cx`` of every site, ``cy = y * gh // H``, ``cx = x * gw // W``."""
    h, w = shape
    gh, gw = grid
    c = coords.astype(np.int64)
    return (c[:, 0] * gh // h) * gw + c[:, 1] * gw // w


def _requantized(lay: Layer, coords: np.ndarray, acc: np.ndarray) -> Sparse:
    """A conv's int64 accumulators -> + bias, requantized int8 features on ``coords``."""
    acc = acc + lay.tensors["bias"].astype(np.int64)
    lo, hi = layer_bounds(lay.attrs)
    return coords, requantize(acc, lay.tensors["mult"], int(lay.attrs["shift"]), lo, hi).astype(np.int8)


def _weight(lay: Layer) -> np.ndarray:
    """The weight as int64 [Co, fan_in] (every op's weight is output channel first)."""
    w = lay.tensors["weight"].astype(np.int64)
    return w.reshape(w.shape[0], -1)


def _conv3x3(lay: Layer, x: Sparse, shape: tuple[int, int]) -> Sparse:
    coords, feats = x
    g = gather_neighbors(feats, neighbor_table(coords, shape)).reshape(len(coords), 9 * feats.shape[1])
    return _requantized(lay, coords, g @ _weight(lay).T)


def _dwconv3x3(lay: Layer, x: Sparse, shape: tuple[int, int]) -> Sparse:
    coords, feats = x
    g = gather_neighbors(feats, neighbor_table(coords, shape))
    return _requantized(lay, coords, np.einsum("nkc,ck->nc", g, _weight(lay)))


def _conv1x1(lay: Layer, x: Sparse, shape: tuple[int, int]) -> Sparse:
    coords, feats = x
    return _requantized(lay, coords, feats.astype(np.int64) @ _weight(lay).T)


def _conv2x2_s2(lay: Layer, x: Sparse, shape: tuple[int, int]) -> Sparse:
    coords, feats = x
    out, parent, tap, _ = downsample_sites(coords, shape)
    taps = np.zeros((len(out) * 4, feats.shape[1]), np.int64)
    taps[parent * 4 + tap] = feats
    return _requantized(lay, out, taps.reshape(len(out), 4 * feats.shape[1]) @ _weight(lay).T)


def _add(lay: Layer, a: Sparse, b: Sparse) -> Sparse:
    if a[0].shape != b[0].shape or not np.array_equal(a[0], b[0]):
        raise IRError(f"layer {lay.name!r} (add): inputs {lay.inputs} are on different site sets")
    acc = a[1].astype(np.int64) * lay.tensors["mult_a"].astype(np.int64) + b[1].astype(np.int64) * lay.tensors["mult_b"].astype(np.int64)
    lo, hi = layer_bounds(lay.attrs)
    return a[0], requantize(acc, 1, int(lay.attrs["shift"]), lo, hi).astype(np.int8)


def _pool(lay: Layer, x: Sparse, shape: tuple[int, int]) -> np.ndarray:
    coords, feats = x
    gh, gw = (int(g) for g in lay.attrs["grid"])
    cell = pool_cells(coords, shape, (gh, gw))
    sums = np.zeros((gh * gw, feats.shape[1]), np.int64)
    np.add.at(sums, cell, feats.astype(np.int64))
    counts = np.bincount(cell, minlength=gh * gw)
    lo, hi = layer_bounds(lay.attrs)
    return pool_average(sums, counts, lay.tensors["mult"], int(lay.attrs["shift"]), lo, hi).astype(np.int8).reshape(-1)


def _fc(lay: Layer, v: np.ndarray) -> np.ndarray:
    acc = lay.tensors["weight"].astype(np.int64) @ v.astype(np.int64) + lay.tensors["bias"].astype(np.int64)
    if lay.attrs.get("requant"):
        lo, hi = layer_bounds(lay.attrs)
        return requantize(acc, lay.tensors["mult"], int(lay.attrs["shift"]), lo, hi).astype(np.int8)
    if np.any(np.abs(acc) >= 1 << 31):
        raise IRError(f"layer {lay.name!r} (fc): accumulator overflows int32 (max |acc| {np.abs(acc).max()})")
    return acc.astype(np.int32)


# The reference's implementation of every op of edgevision.ir.ops.OPS: fn(layer, inputs, input grid) -> value.
for _op, _fn in (("conv3x3_subm", _conv3x3), ("dwconv3x3_subm", _dwconv3x3), ("conv2x2_s2", _conv2x2_s2),
                 ("conv1x1", _conv1x1)):
    register("reference", _op, lambda lay, xs, shape, fn=_fn: fn(lay, xs[0], shape))
register("reference", "add", lambda lay, xs, shape: _add(lay, xs[0], xs[1]))
register("reference", "pool", lambda lay, xs, shape: _pool(lay, xs[0], shape))
register("reference", "fc", lambda lay, xs, shape: _fc(lay, xs[0]))


def check_tokens(net: Network, coords: np.ndarray, feats: np.ndarray) -> None:
    """Raise :class:`EventValidationError` unless coords/feats are one window of ``net``'s input in raster order."""
    spec = net.input
    if coords.ndim != 2 or coords.shape[1] != 2 or feats.ndim != 2 or feats.shape[0] != coords.shape[0]:
        raise EventValidationError(f"tokens: coords must be [N, 2] and feats [N, C], got {coords.shape} and {feats.shape}")
    if feats.dtype.kind not in "iu" or (feats.size and (feats.min() < -128 or feats.max() > 127)):
        raise EventValidationError("tokens: feats must be int8-range integers; convert float features with quantize_input")
    if feats.shape[1] != spec.channels:
        raise EventValidationError(f"tokens: {feats.shape[1]} feature channels, the network input has {spec.channels}")
    if len(coords):
        y, x = coords[:, 0].astype(np.int64), coords[:, 1].astype(np.int64)
        if y.min() < 0 or x.min() < 0 or y.max() >= spec.height or x.max() >= spec.width:
            raise EventValidationError(f"tokens: coordinates outside the {spec.height}x{spec.width} input grid")
        if np.any(np.diff(y * spec.width + x) <= 0):
            raise EventValidationError("tokens: sites must be unique and in raster order (sort by y, then x)")


def run_network(net: Network, coords: np.ndarray, feats: np.ndarray, return_all: bool = False) -> Any:
    """Run ``net`` on one window: coords int32 [N, 2] (y, x) in raster order, feats int8 [N, C].

    Returns the output layer's value: an int8 vector (pool, requantized fc) or int32 logits (fc without
    requantization). With ``return_all``: a dict layer name -> (coords, int8 [N, C]) for sparse layers or the
    vector for dense ones.
    """
    coords = np.asarray(coords)
    feats = np.asarray(feats)
    check_tokens(net, coords, feats)
    shapes = net.shapes()
    acts: dict[str, Any] = {"input": (coords.astype(np.int32), feats.astype(np.int8))}
    for lay in net.layers:
        xs = [acts[n] for n in lay.inputs]
        acts[lay.name] = implementation("reference", lay.op)(lay, xs, shapes[lay.inputs[0]])
    if return_all:
        del acts["input"]
        return acts
    return acts[net.output]


def dequantize_output(net: Network, vec: np.ndarray) -> np.ndarray:
    """The output vector in real units: ``vec * scale`` of the output layer (float32)."""
    return (np.asarray(vec, np.float64) * float(net.layer(net.output).attrs["scale"])).astype(np.float32)

"""QONNX export of the integer IR: the dense, masked equivalent of the sparse int8 network, bit-exact on active sites.

The sparse IR (:mod:`edgevision.ir.ops`) computes on the active sites of a grid. The exported graph computes the
same integers densely: every activation is a ``[1, C, H, W]`` tensor that is zero on inactive sites, carried with a
``[1, 1, H, W]`` 0/1 site mask of its grid. What the graph encodes, exactly:

* Inputs ``x`` ``[1, C, H, W]`` (int8 values, QONNX datatype ``INT8``) and ``mask`` ``[1, 1, H, W]`` (0/1, datatype
  ``BINARY``). Following the QONNX convention every quantized tensor is a FLOAT container holding integer values,
  with its integer type in the graph's ``quantization_annotation`` (``finn_datatype``). ``x`` is multiplied by
  ``mask`` first, so values on inactive sites do not matter. :func:`dense_inputs` builds both from IR tokens.
* Weights are FLOAT initializers holding the IR's int8 (``w_bits``-bit) integers, each feeding a QONNX ``Quant``
  node (domain ``qonnx.custom_op.general``; scale 1, zero point 0, bitwidth ``w_bits``, signed, not narrow): FINN
  and hls4ml read them as 8-bit signed weights. Scale 1 keeps the graph in the integer domain; the real scale
  of each activation is in the node's doc string and in ``metadata_props`` (``scale.<layer>``).
* ``conv3x3_subm`` / ``dwconv3x3_subm`` / ``conv1x1``: ``Conv`` (pad 1 / depthwise ``group = C`` / 1x1) on the
  masked input, then requantization, then ``Mul`` by the grid's mask (output sites = input sites).
* ``conv2x2_s2``: ``Conv`` kernel 2 stride 2 (end-padded by ``H % 2``, ``W % 2`` for odd sizes: grid
  ``ceil(H/2) x ceil(W/2)``); the output mask is ``MaxPool`` 2x2 stride 2 of the input mask (same padding).
* Convolution (and fc / pool-sum) accumulators are computed in FLOAT32, which is exact: the exporter proves for
  every output channel that ``sum |w| * max |x| < 2**24`` (refusing the network otherwise), so every partial sum is
  an integer float32 represents. They are then ``Cast`` to INT64 and the int32 bias is added in INT64.
* Requantization ``clip((acc * M + 2**(S-1)) >> S, lo, hi)`` runs in INT64 ONNX ops, which onnxruntime (and so
  qonnx, which runs standard nodes through it) executes exactly (``|acc * M| < 2**62``): ``Mul`` M, ``Add``
  ``2**(S-1)``, floor division by ``2**S`` as ``(p - Mod(p, 2**S)) / 2**S`` (``Mod`` with ``fmod = 0`` has the sign of
  the divisor, so the ``Div`` is exact), ``Clip(lo, hi)``, ``Cast`` back to FLOAT, then an activation ``Quant`` node
  (scale 1, zero point 0, bitwidth ``bits``, signed when ``lo < 0``) that is the identity on these integers and
  marks the tensor as 8-bit for FINN / hls4ml.
* ``add``: ``a * Ma + b * Mb`` in INT64, then the same requantization with ``M = 1``.
* ``pool`` (grid ``gh x gw``): cell sums and active-site counts as ``MatMul`` with a constant 0/1 site-to-cell
  matrix (site ``(y, x)`` in cell ``(y * gh // H, x * gw // W)``), then in INT64
  ``floor((sum * M + ((n << S) >> 1)) / (n << S))`` (same exact floor division), clipped, times ``min(n, 1)`` (an
  empty cell gives 0). Output ``[1, gh * gw * C]`` ordered ``(cell_y, cell_x, c)``.
* ``fc``: ``MatMul`` with the transposed int8 weight, INT64 bias; requantized like a conv when ``requant`` is set
  (FLOAT int8 output), otherwise the output is the INT32 logits tensor.

The graph output (named after the IR's output layer) equals :func:`edgevision.quant.reference.run_network`
exactly. Limitations: batch size 1; the graph is dense (work grows with H * W, not with the active sites); FINN's
streamlining does not know the INT64 requantization chain, so a FINN flow must treat it (or replace it with
its own thresholds) as the layer's output quantizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevision.errors import BackendError, ConfigError, IRError
from edgevision.ir.ops import OPS, implementation, layer_bounds, register
from edgevision.ir.schema import Layer, Network

QONNX_DOMAIN = "qonnx.custom_op.general"
OPSET = 13
FLOAT32_EXACT = 1 << 24  # every integer of magnitude below this is a float32

_F, _I64, _I32 = 1, 7, 6  # TensorProto.FLOAT, INT64, INT32


class _Graph:
    """Nodes, initializers, value infos and QONNX datatype annotations of the graph being built."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.infos: dict[str, tuple[int, tuple[int, ...]]] = {}
        self.dtypes: dict[str, str] = {}
        self._consts: dict[tuple, str] = {}

    def const(self, name: str, value: np.ndarray, elem: int) -> str:
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=np.float32 if elem == _F else np.int64)
        key = (elem, arr.shape, arr.tobytes())
        if key in self._consts:
            return self._consts[key]
        self.inits.append(numpy_helper.from_array(arr, name))
        self.infos[name] = (elem, arr.shape)
        self._consts[key] = name
        return name

    def node(self, op: str, inputs: list[str], out: str, elem: int, shape: tuple[int, ...], domain: str = "",
             doc: str = "", **attrs: Any) -> str:
        from onnx import helper

        n = helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs)
        if doc:
            n.doc_string = doc
        self.nodes.append(n)
        self.infos[out] = (elem, tuple(shape))
        return out

    def quant(self, src: str, out: str, shape: tuple[int, ...], bits: int, signed: bool, doc: str = "") -> str:
        """A QONNX ``Quant`` node with scale 1, zero point 0: the identity on integers of that width."""
        ins = [src, self.const("q_scale_1", np.float32(1.0), _F), self.const("q_zeropt_0", np.float32(0.0), _F),
               self.const(f"q_bits_{bits}", np.float32(bits), _F)]
        self.node("Quant", ins, out, _F, shape, domain=QONNX_DOMAIN, doc=doc, signed=int(signed), narrow=0,
                  rounding_mode="ROUND")
        self.dtypes[out] = f"{'INT' if signed else 'UINT'}{bits}"
        return out

    def weight(self, name: str, w: np.ndarray, bits: int) -> str:
        """Integer weights as a FLOAT initializer behind a ``Quant`` node (signed ``bits``-bit)."""
        raw = self.const(f"{name}_w", np.asarray(w, np.float32), _F)
        self.dtypes[raw] = f"INT{bits}"
        return self.quant(raw, f"{name}_wq", tuple(np.shape(w)), bits, True, doc=f"{name}: int{bits} weights, scale 1")

    def floor_div(self, name: str, p: str, den: str, shape: tuple[int, ...]) -> str:
        """Exact INT64 ``floor(p / den)`` for ``den > 0``: ``(p - Mod(p, den)) / den``."""
        r = self.node("Mod", [p, den], f"{name}_rem", _I64, shape, fmod=0)
        d = self.node("Sub", [p, r], f"{name}_exact", _I64, shape)
        return self.node("Div", [d, den], f"{name}_floor", _I64, shape)

    def requant(self, name: str, acc: str, mult: np.ndarray | None, shift: int, lo: int, hi: int,
                shape: tuple[int, ...], bshape: tuple[int, ...]) -> str:
        """INT64 ``clip((acc * M + 2**(S-1)) >> S, lo, hi)`` (``mult`` None: M = 1), returned as FLOAT."""
        p = acc
        if mult is not None:
            p = self.node("Mul", [acc, self.const(f"{name}_mult", np.asarray(mult, np.int64).reshape(bshape), _I64)],
                          f"{name}_prod", _I64, shape)
        p = self.node("Add", [p, self.const(f"half_{shift}", np.int64(1 << (shift - 1)), _I64)], f"{name}_rnd", _I64, shape)
        q = self.floor_div(name, p, self.const(f"pow2_{shift}", np.int64(1 << shift), _I64), shape)
        q = self.node("Clip", [q, self.const(f"lo_{lo}", np.int64(lo), _I64), self.const(f"hi_{hi}", np.int64(hi), _I64)],
                      f"{name}_clip", _I64, shape)
        return self.node("Cast", [q], f"{name}_q", _F, shape, to=_F)


def _bound(attrs: dict[str, Any] | None) -> int:
    """Largest magnitude of an activation: 128 for the network input, else from its clip range."""
    if attrs is None:
        return 128
    lo, hi = layer_bounds(attrs)
    return max(abs(lo), abs(hi))


def _check_exact(lay_name: str, w: np.ndarray, xmax: int) -> None:
    w = np.abs(np.asarray(w, np.int64)).reshape(w.shape[0], -1)
    worst = int(w.sum(axis=1).max()) * xmax if w.size else 0
    if worst >= FLOAT32_EXACT:
        raise IRError(f"layer {lay_name!r}: accumulator bound {worst} >= 2**24, a float32 Conv/MatMul would not be "
                      "exact; the QONNX export does not support this layer")


def _check_ranges(lay_name: str, attrs: dict[str, Any], w: np.ndarray | None = None) -> None:
    """The Quant nodes must be identities: weights inside ``w_bits`` signed, clip range inside ``bits``, S >= 1."""
    if w is not None:
        wb = int(attrs.get("w_bits", 8))
        if w.size and (int(w.min()) < -(1 << (wb - 1)) or int(w.max()) >= 1 << (wb - 1)):
            raise IRError(f"layer {lay_name!r}: weights outside the signed {wb}-bit range of its w_bits")
    if "shift" in attrs and int(attrs["shift"]) < 1:
        raise IRError(f"layer {lay_name!r}: shift must be >= 1, got {attrs['shift']}")
    if "bits" in attrs or "act_max" in attrs:
        lo, hi = layer_bounds(attrs)
        b = int(attrs.get("bits", 8))
        qlo, qhi = (-(1 << (b - 1)), (1 << (b - 1)) - 1) if lo < 0 else (0, (1 << b) - 1)
        if lo < qlo or hi > qhi:
            raise IRError(f"layer {lay_name!r}: clip range [{lo}, {hi}] does not fit {b} bits")


@dataclass
class _State:
    """What the per-op exporters share: the graph being built and, per IR layer (and ``"input"``), its output
    tensor with its channel count and producer's attributes (``acts``), its grid's 0/1 site mask tensor
    (``masks``, sparse activations only) and its (H, W) grid (``grid``)."""

    g: _Graph
    acts: dict[str, tuple[str, int, dict | None]] = field(default_factory=dict)
    masks: dict[str, str] = field(default_factory=dict)
    grid: dict[str, tuple[int, int]] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


def _requantized(st: _State, lay: Layer) -> None:
    """What every requantizing op (all but fc) starts with: its activation scale in ``metadata_props`` and the
    checks that its Quant nodes are identities."""
    st.meta[f"scale.{lay.name}"] = repr(float(lay.attrs["scale"]))
    _check_ranges(lay.name, lay.attrs, lay.tensors.get("weight"))


def _conv(st: _State, lay: Layer, doc: str, layout: Callable[[np.ndarray], np.ndarray], kernel: int,
          group: Callable[[int], int] = lambda co: 1) -> None:
    """A convolution op: ``Conv`` (weights in ONNX ``[Co, Ci / group, k, k]`` order by ``layout``), bias,
    requantization, output mask. The output grid is the op's declared one (:meth:`OpSpec.out_grid`); a
    ``"half"`` grid (kernel 2 stride 2) is end-padded for odd sizes and its mask is ``MaxPool`` 2x2 stride 2 of
    the input mask, a ``"same"`` grid keeps the input mask (padding ``kernel // 2``)."""
    _requantized(st, lay)
    g, a, spec = st.g, lay.attrs, OPS[lay.op]
    src, _, src_attrs = st.acts[lay.inputs[0]]
    hh, ww = st.grid[lay.inputs[0]]
    w = np.asarray(lay.tensors["weight"], np.int64)
    co = w.shape[0]
    _check_exact(lay.name, w, _bound(src_attrs))
    mask = st.masks[lay.inputs[0]]
    oh, ow = spec.out_grid(hh, ww)
    if spec.grid == "half":
        pads = [0, 0, hh % 2, ww % 2]
        conv = dict(kernel_shape=[kernel, kernel], strides=[2, 2], pads=pads, group=group(co))
        mask = g.node("MaxPool", [mask], f"{lay.name}_mask", _F, (1, 1, oh, ow), kernel_shape=[2, 2],
                      strides=[2, 2], pads=pads)
        g.dtypes[mask] = "BINARY"
    else:
        conv = dict(kernel_shape=[kernel, kernel], strides=[1, 1], pads=[kernel // 2] * 4, group=group(co))
    wk = layout(w)
    shape = (1, co, oh, ow)
    wq = g.weight(lay.name, wk, int(a.get("w_bits", 8)))
    acc = g.node("Conv", [src, wq], f"{lay.name}_accf", _F, shape, doc=doc, **conv)
    acc = g.node("Cast", [acc], f"{lay.name}_acc", _I64, shape, to=_I64)
    bias = g.const(f"{lay.name}_bias", np.asarray(lay.tensors["bias"], np.int64).reshape(1, co, 1, 1), _I64)
    acc = g.node("Add", [acc, bias], f"{lay.name}_accb", _I64, shape)
    lo, hi = layer_bounds(a)
    q = g.requant(lay.name, acc, lay.tensors["mult"], int(a["shift"]), lo, hi, shape, (1, co, 1, 1))
    q = g.node("Mul", [q, mask], f"{lay.name}_masked", _F, shape)
    out = g.quant(q, lay.name, shape, int(a.get("bits", 8)), lo < 0, doc=doc)
    st.acts[lay.name], st.masks[lay.name], st.grid[lay.name] = (out, co, a), mask, (oh, ow)


# Each op's exporter (edgevision.ir.ops registry, backend "qonnx"): fn(state, layer, doc) adds the layer's nodes.
register("qonnx", "conv3x3_subm", lambda st, lay, doc: _conv(st, lay, doc, lambda w: w.transpose(0, 3, 1, 2), 3))
register("qonnx", "dwconv3x3_subm", lambda st, lay, doc: _conv(st, lay, doc, lambda w: w.reshape(w.shape[0], 1, 3, 3), 3,
                                                                group=lambda co: co))
register("qonnx", "conv2x2_s2", lambda st, lay, doc: _conv(st, lay, doc, lambda w: w.transpose(0, 3, 1, 2), 2))
register("qonnx", "conv1x1", lambda st, lay, doc: _conv(st, lay, doc, lambda w: w.reshape(w.shape[0], -1, 1, 1), 1))


@register("qonnx", "add")
def _add(st: _State, lay: Layer, doc: str) -> None:
    _requantized(st, lay)
    g, a = st.g, lay.attrs
    src, cin, _ = st.acts[lay.inputs[0]]
    srcb, _, _ = st.acts[lay.inputs[1]]
    hh, ww = st.grid[lay.inputs[0]]
    shape = (1, cin, hh, ww)
    terms = []
    for t, key in ((src, "mult_a"), (srcb, "mult_b")):
        ti = g.node("Cast", [t], f"{lay.name}_{key}_in", _I64, shape, to=_I64)
        m = g.const(f"{lay.name}_{key}", np.asarray(lay.tensors[key], np.int64).reshape(1, cin, 1, 1), _I64)
        terms.append(g.node("Mul", [ti, m], f"{lay.name}_{key}_prod", _I64, shape))
    acc = g.node("Add", terms, f"{lay.name}_acc", _I64, shape, doc=doc)
    lo, hi = layer_bounds(a)
    q = g.requant(lay.name, acc, None, int(a["shift"]), lo, hi, shape, (1, cin, 1, 1))
    q = g.node("Mul", [q, st.masks[lay.inputs[0]]], f"{lay.name}_masked", _F, shape)
    out = g.quant(q, lay.name, shape, int(a.get("bits", 8)), lo < 0, doc=doc)
    st.acts[lay.name], st.masks[lay.name], st.grid[lay.name] = (out, cin, a), st.masks[lay.inputs[0]], (hh, ww)


@register("qonnx", "pool")
def _pool(st: _State, lay: Layer, doc: str) -> None:
    _requantized(st, lay)
    g, a = st.g, lay.attrs
    src, cin, src_attrs = st.acts[lay.inputs[0]]
    hh, ww = st.grid[lay.inputs[0]]
    gh, gw = (int(v) for v in a["grid"])
    ncell = gh * gw
    if hh * ww * _bound(src_attrs) >= FLOAT32_EXACT:
        raise IRError(f"layer {lay.name!r}: {hh}x{ww} grid too large for an exact float32 cell sum")
    if (hh * ww) << int(a["shift"]) >= 1 << 62:
        raise IRError(f"layer {lay.name!r}: sites << shift overflows int64")
    yy, xx = np.meshgrid(np.arange(hh), np.arange(ww), indexing="ij")
    cell = ((yy * gh // hh) * gw + xx * gw // ww).reshape(-1)
    assign = np.zeros((hh * ww, ncell), np.float32)
    assign[np.arange(hh * ww), cell] = 1.0
    pmat = g.const(f"{lay.name}_cells", assign, _F)
    flat = g.node("Reshape", [src, g.const(f"{lay.name}_flat_shape", np.array([1, cin, hh * ww]), _I64)],
                  f"{lay.name}_flat", _F, (1, cin, hh * ww))
    mflat = g.node("Reshape", [st.masks[lay.inputs[0]], g.const(f"{lay.name}_mflat_shape", np.array([1, 1, hh * ww]), _I64)],
                   f"{lay.name}_mflat", _F, (1, 1, hh * ww))
    sums = g.node("MatMul", [flat, pmat], f"{lay.name}_sumf", _F, (1, cin, ncell), doc=doc)
    sums = g.node("Cast", [sums], f"{lay.name}_sum", _I64, (1, cin, ncell), to=_I64)
    cnt = g.node("MatMul", [mflat, pmat], f"{lay.name}_countf", _F, (1, 1, ncell))
    cnt = g.node("Cast", [cnt], f"{lay.name}_count", _I64, (1, 1, ncell), to=_I64)
    shift = int(a["shift"])
    n1 = g.node("Max", [cnt, g.const("i64_1", np.int64(1), _I64)], f"{lay.name}_n1", _I64, (1, 1, ncell))
    den = g.node("Mul", [n1, g.const(f"pow2_{shift}", np.int64(1 << shift), _I64)], f"{lay.name}_den", _I64, (1, 1, ncell))
    half = g.node("Mul", [n1, g.const(f"half_{shift}", np.int64(1 << (shift - 1)), _I64)], f"{lay.name}_half", _I64, (1, 1, ncell))
    mult = g.const(f"{lay.name}_mult", np.asarray(lay.tensors["mult"], np.int64).reshape(1, cin, 1), _I64)
    p = g.node("Mul", [sums, mult], f"{lay.name}_prod", _I64, (1, cin, ncell))
    p = g.node("Add", [p, half], f"{lay.name}_rnd", _I64, (1, cin, ncell))
    q = g.floor_div(lay.name, p, den, (1, cin, ncell))
    lo, hi = layer_bounds(a)
    q = g.node("Clip", [q, g.const(f"lo_{lo}", np.int64(lo), _I64), g.const(f"hi_{hi}", np.int64(hi), _I64)],
               f"{lay.name}_clip", _I64, (1, cin, ncell))
    nonempty = g.node("Min", [cnt, g.const("i64_1", np.int64(1), _I64)], f"{lay.name}_nonempty", _I64, (1, 1, ncell))
    q = g.node("Mul", [q, nonempty], f"{lay.name}_q64", _I64, (1, cin, ncell))
    q = g.node("Cast", [q], f"{lay.name}_q", _F, (1, cin, ncell), to=_F)
    q = g.node("Transpose", [q], f"{lay.name}_cells_c", _F, (1, ncell, cin), perm=[0, 2, 1])
    q = g.node("Reshape", [q, g.const(f"{lay.name}_out_shape", np.array([1, ncell * cin]), _I64)],
               f"{lay.name}_vec", _F, (1, ncell * cin))
    out = g.quant(q, lay.name, (1, ncell * cin), int(a.get("bits", 8)), lo < 0, doc=doc)
    st.acts[lay.name] = (out, ncell * cin, a)


@register("qonnx", "fc")
def _fc(st: _State, lay: Layer, doc: str) -> None:
    """Its scale is not in ``metadata_props`` (int32 logits have none; kept so for a requantized fc too)."""
    g, a = st.g, lay.attrs
    if a.get("requant"):
        _check_ranges(lay.name, a, lay.tensors.get("weight"))
    elif "weight" in lay.tensors:
        _check_ranges(lay.name, {"w_bits": a.get("w_bits", 8)}, lay.tensors["weight"])
    src, cin, src_attrs = st.acts[lay.inputs[0]]
    w = np.asarray(lay.tensors["weight"], np.int64)
    co = w.shape[0]
    if cin != w.shape[1]:
        raise IRError(f"layer {lay.name!r}: fc in_ch {w.shape[1]} but its input has {cin} values")
    _check_exact(lay.name, w, _bound(src_attrs))
    wq = g.weight(lay.name, w.T, int(a.get("w_bits", 8)))
    acc = g.node("MatMul", [src, wq], f"{lay.name}_accf", _F, (1, co), doc=doc)
    acc = g.node("Cast", [acc], f"{lay.name}_acc", _I64, (1, co), to=_I64)
    bias = g.const(f"{lay.name}_bias", np.asarray(lay.tensors["bias"], np.int64).reshape(1, co), _I64)
    acc = g.node("Add", [acc, bias], f"{lay.name}_accb", _I64, (1, co))
    if a.get("requant"):
        lo, hi = layer_bounds(a)
        q = g.requant(lay.name, acc, lay.tensors["mult"], int(a["shift"]), lo, hi, (1, co), (1, co))
        out = g.quant(q, lay.name, (1, co), int(a.get("bits", 8)), lo < 0, doc=doc)
    else:
        acc = g.node("Clip", [acc, g.const("i32_min", np.int64(-(1 << 31)), _I64),
                              g.const("i32_max", np.int64((1 << 31) - 1), _I64)], f"{lay.name}_acc32", _I64, (1, co))
        out = g.node("Cast", [acc], lay.name, _I32, (1, co), doc=doc + " (int32 logits)", to=_I32)
    st.acts[lay.name] = (out, co, a)


def build_qonnx(net: Network) -> Any:
    """The QONNX ``onnx.ModelProto`` of ``net`` (see the module docstring for what it encodes); each layer is
    exported by its op's registered function (``implementation("qonnx", op)``)."""
    import onnx
    from onnx import helper

    st = _State(_Graph())
    g = st.g
    h0, w0, c0 = net.input.height, net.input.width, net.input.channels
    g.dtypes["x"], g.dtypes["mask"] = "INT8", "BINARY"
    st.masks["input"] = "mask"
    st.grid["input"] = (h0, w0)
    xin = g.node("Mul", ["x", "mask"], "x_masked", _F, (1, c0, h0, w0))
    st.acts["input"] = (xin, c0, None)
    st.meta.update({"edgevision.ir_name": str(net.name), "edgevision.output": str(net.output),
                    "edgevision.input_scale": repr(float(net.input.scale))})
    for lay in net.layers:
        doc = f"edgevision IR layer {lay.name!r} ({lay.op}), real value = q * {float(lay.attrs.get('scale', 1.0))!r}"
        implementation("qonnx", lay.op)(st, lay, doc)
    acts, meta = st.acts, st.meta
    out_name, _, _ = acts[net.output]
    if out_name != net.output:  # the output is a layer name; keep it stable for consumers
        raise IRError(f"internal: output tensor {out_name!r} is not named after {net.output!r}")
    # Only tensors the output depends on (an IR may carry layers the output does not use).
    needed, stack = set(), [out_name]
    producers = {n.output[0]: n for n in g.nodes}
    while stack:
        t = stack.pop()
        if t in needed:
            continue
        needed.add(t)
        if t in producers:
            stack.extend(producers[t].input)
    nodes = [n for n in g.nodes if n.output[0] in needed]
    inits = [i for i in g.inits if i.name in needed]
    out_elem, out_shape = g.infos[out_name]
    inputs = [helper.make_tensor_value_info("x", _F, [1, c0, h0, w0]),
              helper.make_tensor_value_info("mask", _F, [1, 1, h0, w0])]
    outputs = [helper.make_tensor_value_info(out_name, out_elem, list(out_shape))]
    infos = [helper.make_tensor_value_info(n, e, list(s)) for n, (e, s) in g.infos.items()
             if n in needed and n != out_name]
    graph = helper.make_graph(nodes, f"{net.name}_qonnx", inputs, outputs, initializer=inits, value_info=infos)
    for name, dt in g.dtypes.items():
        if name in needed or name in ("x", "mask"):
            qa = onnx.TensorAnnotation()
            qa.tensor_name = name
            qa.quant_parameter_tensor_names.append(onnx.StringStringEntryProto(key="finn_datatype", value=dt))
            graph.quantization_annotation.append(qa)
    model = helper.make_model(graph, producer_name="edgevision", opset_imports=[
        helper.make_opsetid("", OPSET), helper.make_opsetid(QONNX_DOMAIN, 1)])
    model.ir_version = 8
    model.doc_string = ("edgevision integer IR as a dense masked QONNX graph: inputs x [1,C,H,W] (int8) and mask "
                        "[1,1,H,W] (0/1); bit-exact with edgevision.quant.reference.run_network on active sites")
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def dense_inputs(net: Network, coords: np.ndarray, feats: np.ndarray) -> dict[str, np.ndarray]:
    """IR tokens (coords [N, 2] (y, x), int8 feats [N, C]) -> the graph inputs ``x`` and ``mask`` (float32)."""
    from edgevision.quant.reference import check_tokens

    coords, feats = np.asarray(coords), np.asarray(feats)
    check_tokens(net, coords, feats)
    h, w, c = net.input.height, net.input.width, net.input.channels
    x = np.zeros((1, c, h, w), np.float32)
    mask = np.zeros((1, 1, h, w), np.float32)
    y, xx = coords[:, 0].astype(np.int64), coords[:, 1].astype(np.int64)
    x[0, :, y, xx] = feats.astype(np.float32)
    mask[0, 0, y, xx] = 1.0
    return {"x": x, "mask": mask}


def run_qonnx(model: Any, net: Network, coords: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Execute the exported model (a path or a ``qonnx`` ``ModelWrapper``) on one window with
    ``qonnx.core.onnx_exec.execute_onnx``; returns the output as the IR does (int8 vector or int32 logits)."""
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
    except ImportError as exc:
        raise BackendError(f"qonnx is not installed ({exc}); pip install 'qonnx>=1.0'") from exc
    if not isinstance(model, ModelWrapper):
        model = ModelWrapper(str(model))
    names = [i.name for i in model.graph.input]  # by position: qonnx's cleanup renames x, mask to global_in*
    if len(names) != 2 or len(model.graph.output) != 1:
        raise BackendError(f"QONNX model has inputs {names}; expected x and mask and one output")
    dense = dense_inputs(net, coords, feats)
    out = execute_onnx(model, {names[0]: dense["x"], names[1]: dense["mask"]})[model.graph.output[0].name].reshape(-1)
    if out.dtype.kind == "f":
        if not np.array_equal(out, np.round(out)):
            raise BackendError("QONNX output is not integral; the export is wrong")
        return out.astype(np.int8)
    return out.astype(np.int32)


def export_qonnx(model_dir: str | Path, out: str | Path, check: int = 2, seed: int = 0) -> dict[str, Any]:
    """Write the QONNX graph of the IR in ``model_dir`` to ``out`` (atomically); with ``check`` > 0 and qonnx
    installed, run it with qonnx on that many random windows and require bit-exact equality with the reference."""
    import onnx

    from edgevision.atomic import atomic_path
    from edgevision.ir.schema import load_ir

    model_dir, out = Path(model_dir), Path(out)
    if not model_dir.is_dir():
        raise IRError(f"{model_dir}: no such IR folder (expected network.json and tensors.npz)")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; --out is the .onnx file to write")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"{out}: cannot write the QONNX file ({parent} is not a folder)")
    net = load_ir(model_dir)
    proto = build_qonnx(net)
    try:
        with atomic_path(out, suffix=".onnx") as tmp:
            onnx.save(proto, str(tmp))
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the QONNX file ({exc.strerror or exc})") from exc
    result: dict[str, Any] = {
        "out": str(out), "ir": str(model_dir), "network": net.name, "output": net.output,
        "nodes": len(proto.graph.node), "quant_nodes": sum(n.op_type == "Quant" for n in proto.graph.node),
        "inputs": {"x": [1, net.input.channels, net.input.height, net.input.width],
                   "mask": [1, 1, net.input.height, net.input.width]},
        "bytes": out.stat().st_size,
    }
    if check > 0:
        try:
            import qonnx  # noqa: F401
        except ImportError:
            result["check"] = "skipped: qonnx not installed (pip install 'qonnx>=1.0')"
            return result
        from edgevision.ir.random import random_windows
        from edgevision.quant.reference import run_network

        for coords, feats in random_windows(net, check, 0.1, seed=seed):
            ref = run_network(net, coords, feats)
            got = run_qonnx(out, net, coords, feats)
            if not np.array_equal(ref, got):
                raise BackendError(f"{out}: qonnx execution differs from the integer reference "
                                   f"({int(np.sum(ref != got))} of {ref.size} values); the export is wrong")
        result["check"] = f"qonnx execute_onnx bit-exact with the reference on {check} random windows"
    return result

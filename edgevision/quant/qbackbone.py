"""The quantized eye-tracker backbone: BN folding, int8 per-channel weights (or 6/4 bits), int8 per-tensor
activations, int32 biases, dyadic requantization, rescaled residual adds and integer grid pooling.

:class:`QuantBackbone` wraps a trained :class:`~edgevision.nn.backbone.SparseBackbone` (sharing its parameters).
In training mode it is a fake-quant model (straight-through rounding, LSQ-learnable activation scales) for QAT;
in eval mode it *is* the integer network: it exports the IR (:func:`export_ir`) and runs it with
:class:`~edgevision.quant.torch_int.TorchIntNetwork`, so its eval output is bit-exact with the NumPy reference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from edgevision.ir.schema import InputSpec, Layer, Network, grid_front, validate
from edgevision.nn import sparse_ops
from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.layers import AddNode, ConvNode, PoolNode, Sites, fold_bn
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.fakequant import fake_quant, fake_quant_weight, round_ste, weight_scale
from edgevision.quant.requant import quantize_multiplier, round_half_up
from edgevision.quant.torch_int import TorchIntNetwork

ACT_BITS = 8
ACT_QMAX = (1 << (ACT_BITS - 1)) - 1
POOL_SHIFT = 16  # pool output keeps the input scale: mult = 2**16, exact round-half-up mean
INT32 = (-(1 << 31), (1 << 31) - 1)


class QuantBackbone(nn.Module):
    """Fake-quant (train) / integer (eval) version of ``backbone`` on an ``input_shape`` (H, W) grid."""

    def __init__(self, backbone: SparseBackbone, input_shape: tuple[int, int], input_scale: float = 1.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.input_shape = (int(input_shape[0]), int(input_shape[1]))
        self.input_scale = float(input_scale)
        self.log_scale = nn.ParameterDict(
            {n.name: nn.Parameter(torch.zeros(())) for n in backbone.nodes if not isinstance(n, PoolNode)}
        )
        self.w_bits: dict[str, int] = {n.name: 8 for n in backbone.nodes if isinstance(n, ConvNode)}

    @property
    def nodes(self) -> nn.ModuleList:
        return self.backbone.nodes

    def act_scale(self, name: str) -> torch.Tensor:
        """Output scale of node ``name`` (positive, learnable through its log)."""
        return torch.exp(self.log_scale[name])

    def set_act_range(self, name: str, clip: float) -> None:
        """Set node ``name``'s activation clipping range to ``[-clip, clip]`` (``[0, clip]`` after ReLU)."""
        with torch.no_grad():
            self.log_scale[name].fill_(math.log(max(float(clip), 1e-8) / ACT_QMAX))

    def bounds(self, node: nn.Module, scale: float) -> tuple[int, int]:
        """Integer clip range of a node's output at ``scale`` (ReLU6 saturates at the quantized 6.0)."""
        act = getattr(node, "act_name", None)
        if act == "relu6":
            return 0, int(min(ACT_QMAX, int(round_half_up(6.0 / scale))))
        return (0, ACT_QMAX) if act == "relu" else (-ACT_QMAX - 1, ACT_QMAX)

    def forward(self, x: SparseTensor) -> torch.Tensor:
        """Backbone features [B, F] in real units: fake-quant in training mode, the integer network in eval mode."""
        if self.training:
            return self.forward_fake(x)
        return self.forward_int(x)

    def quantize_input(self, feats: torch.Tensor) -> torch.Tensor:
        """Float input features -> integer values (round half up, int8 clip), as float."""
        return torch.clamp(torch.floor(feats / self.input_scale + 0.5), -ACT_QMAX - 1, ACT_QMAX)

    def forward_fake(self, x: SparseTensor) -> torch.Tensor:
        """Fake-quantized float forward (straight-through estimator); BatchNorm uses its running statistics."""
        sites = Sites("torch")
        acts: dict[str, Any] = {"input": x.replace(self.quantize_input(x.feats) * self.input_scale)}
        scales: dict[str, torch.Tensor] = {"input": torch.tensor(self.input_scale)}
        for node in self.nodes:
            xs = [acts[n] for n in node.inputs]
            if isinstance(node, PoolNode):
                s = scales[node.inputs[0]]
                pooled = sparse_ops.grid_pool(xs[0].feats, xs[0].coords, xs[0].shape, xs[0].batch_size, node.grid)
                return round_ste(pooled / s) * s
            s_out = self.act_scale(node.name)
            lo, hi = self.bounds(node, float(s_out.detach()))
            if isinstance(node, AddNode):
                y = xs[0].replace(xs[0].feats + xs[1].feats)
            else:
                y = self._fake_conv(node, xs[0], scales[node.inputs[0]], sites)
            acts[node.name] = y.replace(fake_quant(y.feats, s_out, lo, hi))
            scales[node.name] = s_out
        raise ValueError("backbone has no pool node")

    def _fake_conv(self, node: ConvNode, x: SparseTensor, s_in: torch.Tensor, sites: Sites) -> SparseTensor:
        w, b = fold_bn(node)
        wq = fake_quant_weight(w, self.w_bits[node.name])
        s_acc = s_in.detach() * weight_scale(w, self.w_bits[node.name])
        bq = round_ste(b / s_acc) * s_acc
        if node.op == "conv3x3_subm":
            y = x.replace(sparse_ops.subm_conv3x3(x.feats, sites.neighbors(x), wq))
        elif node.op == "dwconv3x3_subm":
            y = x.replace(sparse_ops.dw_conv3x3(x.feats, sites.neighbors(x), wq))
        elif node.op == "conv1x1":
            y = x.replace(sparse_ops.conv1x1(x.feats, wq))
        else:
            oc, parent, offset, oshape = sites.down(x)
            y = SparseTensor(sparse_ops.strided_conv2x2(x.feats, parent, offset, oc.shape[0], wq), oc, oshape, x.batch_size)
        return y.replace(y.feats + bq)

    @torch.no_grad()
    def forward_int(self, x: SparseTensor) -> torch.Tensor:
        """The exported integer network on ``x`` (float counts are quantized first), dequantized to float32."""
        net = export_ir(self, grid_front(*self.input_shape, int(self.nodes[0].in_ch), self.input_scale))
        xi = x.replace(self.quantize_input(x.feats).long())
        out = TorchIntNetwork(net, x.feats.device)(xi)
        return (out.double() * float(net.layer(net.output).attrs["scale"])).float()  # as dequantize_output

    def weight_bytes(self) -> float:
        """Size of the conv weights at their bit widths, in bytes (biases and multipliers excluded)."""
        return sum(n.weight.numel() * self.w_bits[n.name] for n in self.nodes if isinstance(n, ConvNode)) / 8.0


@torch.no_grad()
def export_ir(qb: QuantBackbone, front: dict[str, Any], name: str = "eye_backbone",
              meta: dict[str, Any] | None = None) -> Network:
    """The integer network of ``qb`` fed by the front end ``front`` (:func:`~edgevision.ir.schema.front_end`)
    as an IR :class:`~edgevision.ir.schema.Network` (validated: the front end must give ``qb``'s grid and channels)."""
    h, w = qb.input_shape
    first = qb.nodes[0]
    spec = InputSpec(h, w, int(first.in_ch), scale=qb.input_scale, bits=ACT_BITS, **front)
    scales: dict[str, float] = {"input": qb.input_scale}
    channels: dict[str, int] = {"input": spec.channels}
    relu_out: dict[str, bool] = {"input": False}
    layers: list[Layer] = []
    for node in qb.nodes:
        src = node.inputs[0]
        if isinstance(node, PoolNode):
            s_out, ch = scales[src], channels[src]
            lo, hi = (0, ACT_QMAX) if relu_out[src] else (-ACT_QMAX - 1, ACT_QMAX)
            attrs = {"in_ch": ch, "out_ch": ch, "grid": list(node.grid), "shift": POOL_SHIFT, "relu": relu_out[src],
                     "act_max": hi, "scale": s_out, "bits": ACT_BITS}
            layers.append(Layer(node.name, "pool", [src], attrs, {"mult": np.full(ch, 1 << POOL_SHIFT, np.int32)}))
            continue
        s_out = float(qb.act_scale(node.name))
        lo, hi = qb.bounds(node, s_out)
        base = {"shift": 0, "relu": lo == 0, "act_max": hi, "scale": s_out, "bits": ACT_BITS}
        if isinstance(node, AddNode):
            a, b = node.inputs
            ch = channels[a]
            mult, shift = quantize_multiplier(np.concatenate([np.full(ch, scales[a] / s_out), np.full(ch, scales[b] / s_out)]))
            attrs = {"in_ch": ch, "out_ch": ch, **base, "shift": shift}
            layers.append(Layer(node.name, "add", [a, b], attrs, {"mult_a": mult[:ch], "mult_b": mult[ch:]}))
        else:
            layers.append(_export_conv(node, qb.w_bits[node.name], scales[src], s_out, base))
            ch = node.out_ch
        scales[node.name], channels[node.name], relu_out[node.name] = s_out, ch, lo == 0
    out = qb.nodes[-1].name
    meta = {"quantization": "int8 dyadic (BN folded, per-channel weights, per-tensor activations)", **(meta or {})}
    return validate(Network(name, spec, layers, out, meta))


def _export_conv(node: ConvNode, bits: int, s_in: float, s_out: float, base: dict[str, Any]) -> Layer:
    w, b = fold_bn(node)
    w, b = w.double().cpu().numpy(), b.double().cpu().numpy()
    qmax = (1 << (bits - 1)) - 1
    amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    s_w = np.where(amax > 0, amax / qmax, 1.0)
    wq = np.clip(round_half_up(w / s_w.reshape(-1, *([1] * (w.ndim - 1)))), -qmax, qmax).astype(np.int8)
    s_acc = s_in * s_w
    bias = np.clip(round_half_up(b / s_acc), *INT32).astype(np.int32)
    mult, shift = quantize_multiplier(s_acc / s_out)
    attrs = {"in_ch": node.in_ch, "out_ch": node.out_ch, **base, "shift": shift, "w_bits": bits}
    return Layer(node.name, node.op, [node.inputs[0]], attrs, {"weight": wq, "bias": bias, "mult": mult})

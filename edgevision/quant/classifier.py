"""The quantized sparse CNN classifier: a :class:`~edgevision.nn.backbone.SparseBackbone` (quantized as for the
eye tracker, ending in a pool) plus a linear head exported as an IR ``fc`` layer producing int32 logits.

The head uses ONE weight scale for all classes (per-tensor int8) so that the int32 logits share one scale and
their argmax is the class; bias is int32 at scale ``feature_scale x weight_scale``. In training mode
:class:`QuantClassifier` is fake-quantized (QAT-ready); in eval mode it runs the exported integer network, so its
output is bit-exact with :func:`edgevision.quant.reference.run_network`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from edgevision.ir.schema import Layer, Network, grid_front, validate
from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.fakequant import fake_quant, round_ste
from edgevision.quant.qbackbone import ACT_QMAX, INT32, QuantBackbone, export_ir
from edgevision.quant.requant import round_half_up
from edgevision.quant.torch_int import TorchIntNetwork

HEAD_NAME = "fc"


def head_weight_scale(weight: torch.Tensor) -> torch.Tensor:
    """Per-tensor symmetric int8 scale of the head weight (1 for an all-zero weight), detached."""
    amax = weight.detach().abs().max()
    return torch.where(amax > 0, amax / ACT_QMAX, torch.ones_like(amax))


class QuantClassifier(nn.Module):
    """Fake-quant (train) / integer (eval) version of ``backbone`` + ``head`` on an ``input_shape`` (H, W) grid."""

    def __init__(self, backbone: SparseBackbone, head: nn.Linear, input_shape: tuple[int, int],
                 input_scale: float = 1.0) -> None:
        super().__init__()
        self.backbone = QuantBackbone(backbone, input_shape, input_scale)
        self.head = head

    @classmethod
    def from_model(cls, model: nn.Module, input_shape: tuple[int, int], input_scale: float = 1.0) -> "QuantClassifier":
        """Wrap a classifier with ``.backbone`` (SparseBackbone) and ``.head`` (nn.Linear), e.g. ESDAClassifier."""
        if not isinstance(getattr(model, "backbone", None), SparseBackbone) or not isinstance(getattr(model, "head", None), nn.Linear):
            raise TypeError(f"{type(model).__name__}: expected .backbone (SparseBackbone) and .head (nn.Linear)")
        return cls(model.backbone, model.head, input_shape, input_scale)

    def feature_scale(self) -> float:
        """Scale of the pooled int8 features (the pool keeps its input's scale)."""
        pool = self.backbone.nodes[-1]
        src = pool.inputs[0]
        return self.backbone.input_scale if src == "input" else float(self.backbone.act_scale(src).detach())

    def forward(self, x: SparseTensor) -> torch.Tensor:
        """Logits [B, classes] in real units: fake-quant in training mode, the integer network in eval mode."""
        if self.training:
            return self.forward_fake(x)
        return self.forward_int(x)

    def forward_fake(self, x: SparseTensor) -> torch.Tensor:
        feats = self.backbone.forward_fake(x)
        s_w = head_weight_scale(self.head.weight)
        wq = fake_quant(self.head.weight, s_w, -ACT_QMAX, ACT_QMAX)
        s_acc = torch.tensor(self.feature_scale(), dtype=feats.dtype) * s_w
        bq = round_ste(self.head.bias / s_acc) * s_acc
        return nn.functional.linear(feats, wq, bq)

    @torch.no_grad()
    def forward_int(self, x: SparseTensor) -> torch.Tensor:
        """The exported integer network on ``x`` (float counts quantized first): int32 logits x their scale."""
        bb = self.backbone
        net = export_classifier_ir(self, grid_front(*bb.input_shape, int(bb.nodes[0].in_ch), bb.input_scale))
        xi = x.replace(self.backbone.quantize_input(x.feats).long())
        out = TorchIntNetwork(net, x.feats.device)(xi)
        return (out.double() * float(net.layer(net.output).attrs["scale"])).float()


@torch.no_grad()
def export_classifier_ir(qc: QuantClassifier, front: dict[str, Any], name: str = "classifier",
                         meta: dict[str, Any] | None = None) -> Network:
    """Backbone IR (input front end ``front``) + an ``fc`` layer (int8 per-tensor weights, int32 bias, no
    requantization: int32 logits)."""
    body = export_ir(qc.backbone, front, name=name, meta=meta)
    pool = body.layer(body.output)
    fin = int(np.prod(pool.attrs["grid"])) * int(pool.attrs["out_ch"])
    w = qc.head.weight.double().cpu().numpy()
    if w.shape[1] != fin:
        raise ValueError(f"head takes {w.shape[1]} features but the backbone's pool gives {fin}")
    b = (qc.head.bias.double().cpu().numpy() if qc.head.bias is not None else np.zeros(w.shape[0]))
    s_w = float(head_weight_scale(qc.head.weight))
    s_acc = float(pool.attrs["scale"]) * s_w
    wq = np.clip(round_half_up(w / s_w), -ACT_QMAX, ACT_QMAX).astype(np.int8)
    bias = np.clip(round_half_up(b / s_acc), *INT32).astype(np.int32)
    attrs = {"in_ch": fin, "out_ch": int(w.shape[0]), "requant": False, "scale": s_acc, "w_bits": 8}
    fc = Layer(HEAD_NAME, "fc", [body.output], attrs, {"weight": wq, "bias": bias})
    return validate(Network(name, body.input, [*body.layers, fc], HEAD_NAME, body.meta))

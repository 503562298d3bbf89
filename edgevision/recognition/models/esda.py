"""ESDA-style sparse CNN classifier: the eye tracker's :class:`~edgevision.nn.backbone.SparseBackbone`
(submanifold MobileNetV2 blocks, stride-2 2x2 sparse downsampling, pooled over active sites) plus a linear
head. Input: histogram tokens of one window, features ``min(count, input_clip)`` as in the eye tracker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.config import config_from_dict
from edgevision.nn.tensor import SparseTensor


def _default_layers() -> list[dict[str, Any]]:
    return [
        {"op": "conv3x3_subm", "out": 16, "act": "relu"},
        {"op": "conv2x2_s2", "out": 24, "act": "relu"},
        {"block": "inverted_residual", "out": 24, "expand": 2, "repeat": 1},
        {"op": "conv2x2_s2", "out": 32, "act": "relu"},
        {"block": "inverted_residual", "out": 32, "expand": 2, "repeat": 1},
        {"op": "conv2x2_s2", "out": 64, "act": "relu"},
        {"block": "inverted_residual", "out": 64, "expand": 2, "repeat": 1},
        {"op": "pool", "grid": [1, 1]},
    ]


@dataclass
class ESDAConfig:
    downsample: int = 2
    time_bins: int = 2
    input_clip: float = 15.0
    layers: list[dict[str, Any]] = field(default_factory=_default_layers)


class ESDAClassifier(nn.Module):
    """``forward(SparseTensor)`` -> logits [B, classes]."""

    input_kind = "tokens"

    def __init__(self, num_classes: int, cfg: ESDAConfig = ESDAConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        eye_cfg = config_from_dict(
            {
                "name": "esda_classifier",
                "input": {"downsample": cfg.downsample, "time_bins": cfg.time_bins, "input_clip": cfg.input_clip},
                "backbone": {"layers": list(cfg.layers)},
            },
            source="esda classifier",
        )
        self.backbone = SparseBackbone(eye_cfg)
        self.head = nn.Linear(self.backbone.feature_dim, num_classes)

    def forward(self, x: SparseTensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def loss(self, out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, labels)

    def scores(self, out: torch.Tensor) -> torch.Tensor:
        return out

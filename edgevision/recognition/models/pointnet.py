"""A compact PointNet++ classifier (two set-abstraction levels and a global level) for event clouds."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from edgevision.recognition.points import gather, group, knn, farthest_point_sampling


@dataclass
class PointNetConfig:
    num_points: int = 512
    groups: tuple[int, int] = (128, 32)
    neighbours: tuple[int, int] = (16, 16)
    widths: tuple[int, int, int] = (64, 128, 256)
    radius_scale: float = 10.0  # relative coordinates are multiplied by this before the MLPs
    # The time coordinate (0..1 over the window) is multiplied by this before grouping. At 1 the window's time span
    # weighs as much as the sensor's width, so a group of K nearest neighbours spreads over a third of the image
    # (neighbourhoods are 3-D); a small factor makes groups spatial, the stroke structure digits need.
    time_scale: float = 1.0


def mlp(c_in: int, c_out: int) -> nn.Sequential:
    """Shared point-wise layer on [..., C] (Linear + BN over channels + ReLU)."""
    return nn.Sequential(nn.Linear(c_in, c_out, bias=False), _ChannelBN(c_out), nn.ReLU())


class _ChannelBN(nn.BatchNorm1d):
    """BatchNorm over the last dimension of an [..., C] tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class PointNetPP(nn.Module):
    """``forward(points [B, N, 3])`` -> logits [B, classes]."""

    input_kind = "points"

    def __init__(self, num_classes: int, cfg: PointNetConfig = PointNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w1, w2, w3 = cfg.widths
        self.sa1 = nn.Sequential(mlp(6, w1 // 2), mlp(w1 // 2, w1))
        self.sa2 = nn.Sequential(mlp(w1 + 3, w2), mlp(w2, w2))
        self.glob = nn.Sequential(mlp(w2 + 3, w3))
        self.head = nn.Sequential(nn.Linear(w3, w3 // 2), nn.ReLU(), nn.Dropout(0.3), nn.Linear(w3 // 2, num_classes))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.time_scale != 1.0:
            points = points * points.new_tensor([1.0, 1.0, cfg.time_scale])
        c1, n1 = group(points, cfg.groups[0], cfg.neighbours[0])
        rel = (n1 - c1.unsqueeze(2)) * cfg.radius_scale
        f1 = self.sa1(torch.cat([rel, n1], dim=-1)).amax(dim=2)  # [B, M1, w1]
        idx2 = farthest_point_sampling(c1, cfg.groups[1])
        c2 = gather(c1, idx2)
        nb = knn(c1, c2, cfg.neighbours[1])
        rel2 = (gather(c1, nb) - c2.unsqueeze(2)) * cfg.radius_scale
        f2 = self.sa2(torch.cat([rel2, gather(f1, nb)], dim=-1)).amax(dim=2)  # [B, M2, w2]
        g = self.glob(torch.cat([c2, f2], dim=-1)).amax(dim=1)
        return self.head(g)

    def loss(self, out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, labels)

    def scores(self, out: torch.Tensor) -> torch.Tensor:
        return out

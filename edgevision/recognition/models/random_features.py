"""Training-free random-feature classifier in the spirit of DEPLM: a fixed random point-feature extractor
(FPS + kNN groups, random ReLU features of each neighbour, max over the group, max and mean over groups)
followed by a closed-form ridge-regression readout (optionally also pooled over a grid of centroid cells, which keeps
the spatial layout that digits need). Only the readout is fitted, in one linear solve."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from edgevision.recognition.points import group


@dataclass
class RandomFeaturesConfig:
    num_points: int = 512
    num_groups: int = 64
    neighbours: int = 16
    features: int = 512
    weight_scale: float = 3.0
    radius_scale: float = 10.0
    ridge: float = 1e-2  # relative to the mean diagonal of the Gram matrix
    seed: int = 0
    grid: int = 0  # > 0: also pool the group features over a grid x grid of centroid (x, y) cells (keeps layout)


class RandomFeatures(nn.Module):
    """``forward(points [B, N, 3])`` -> scores [B, classes]; ``fit(features, labels)`` solves the readout."""

    input_kind = "points"
    closed_form = True

    def __init__(self, num_classes: int, cfg: RandomFeaturesConfig = RandomFeaturesConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = num_classes
        gen = torch.Generator().manual_seed(cfg.seed)
        d = cfg.features
        # Fixed random projection and a readout set by fit(); neither is trained by gradient descent.
        self.project = nn.Linear(6, d)
        self.readout = nn.Linear(self.num_features, num_classes)
        with torch.no_grad():
            self.project.weight.copy_(torch.randn(d, 6, generator=gen) * cfg.weight_scale)
            self.project.bias.copy_((torch.rand(d, generator=gen) - 0.5) * cfg.weight_scale)
            self.readout.weight.zero_()
            self.readout.bias.zero_()
        self.act = nn.ReLU()
        self.requires_grad_(False)
        self.register_buffer("mean", torch.zeros(self.num_features))
        self.register_buffer("scale", torch.ones(self.num_features))

    @property
    def num_features(self) -> int:
        return self.cfg.features * (2 + self.cfg.grid**2)

    def features(self, points: torch.Tensor) -> torch.Tensor:
        """Fixed random features [B, num_features]: max and mean over groups, then (``grid`` > 0) the mean over
        the groups whose centroid falls in each of grid x grid (x, y) cells (zero for an empty cell)."""
        cfg = self.cfg
        cents, nbrs = group(points, cfg.num_groups, cfg.neighbours)
        x = torch.cat([(nbrs - cents.unsqueeze(2)) * cfg.radius_scale, nbrs], dim=-1)
        local = self.act(self.project(x)).amax(dim=2)  # [B, M, D]
        out = [local.amax(dim=1), local.mean(dim=1)]
        if cfg.grid:
            g = cfg.grid
            b, m, d = local.shape
            cell = (cents[..., :2] * g).long().clamp(0, g - 1)
            dev = local.device
            flat = (cell[..., 1] * g + cell[..., 0]) + torch.arange(b, device=dev).unsqueeze(1) * g * g  # [B, M]
            sums = torch.zeros(b * g * g, d, dtype=local.dtype, device=dev).index_add_(0, flat.reshape(-1), local.reshape(-1, d))
            counts = torch.zeros(b * g * g, dtype=local.dtype, device=dev).index_add_(
                0, flat.reshape(-1), torch.ones(b * m, dtype=local.dtype, device=dev))
            out.append((sums / counts.clamp_min(1).unsqueeze(1)).reshape(b, g * g * d))
        return torch.cat(out, dim=-1)

    def fit(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Ridge regression of one-hot targets on standardized features (closed form, float64)."""
        feats = feats.double()
        self.mean.copy_(feats.mean(0).float())
        self.scale.copy_(feats.std(0).clamp_min(1e-6).float())
        z = (feats - self.mean.double()) / self.scale.double()
        x = torch.cat([z, torch.ones_like(z[:, :1])], dim=1)  # last column: the readout bias
        y = F.one_hot(labels, self.num_classes).double()
        gram = x.T @ x
        lam = self.cfg.ridge * gram.diagonal().mean()
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        sol = torch.linalg.solve(gram + lam * eye, x.T @ y).float()
        self.readout.weight.copy_(sol[:-1].T)
        self.readout.bias.copy_(sol[-1])

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.readout((self.features(points) - self.mean) / self.scale)

    def loss(self, out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out, F.one_hot(labels, self.num_classes).float())

    def scores(self, out: torch.Tensor) -> torch.Tensor:
        return out

"""The sparse tensor the torch models pass between layers (spconv's convention, nothing more)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SparseTensor:
    """``feats`` [N, C] float; ``coords`` [N, 3] int32 rows (batch, y, x) sorted by (batch, y, x);
    ``shape`` the (H, W) grid; ``batch_size`` the number of windows in the batch."""

    feats: torch.Tensor
    coords: torch.Tensor
    shape: tuple[int, int]
    batch_size: int

    def replace(self, feats: torch.Tensor) -> "SparseTensor":
        """Same sites, new features."""
        return SparseTensor(feats, self.coords, self.shape, self.batch_size)

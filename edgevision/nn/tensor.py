"""The sparse tensor the torch models pass between layers (spconv's convention, nothing more)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
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

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "SparseTensor":
        """The same tensor on ``device``, its features cast to ``dtype`` when given."""
        return SparseTensor(self.feats.to(device=device, dtype=dtype), self.coords.to(device), tuple(self.shape),
                            self.batch_size)

    @classmethod
    def from_windows(
        cls,
        windows: Sequence[tuple[np.ndarray, np.ndarray]],
        shape: tuple[int, int],
        dtype: torch.dtype | None = torch.float32,
        device: torch.device | str | None = None,
    ) -> "SparseTensor":
        """Stack ``(coords [N, 2] (y, x) raster order, feats [N, C])`` windows; window i gets batch index i.

        ``dtype`` None keeps the features' numpy dtype."""
        counts = [len(c) for c, _ in windows]
        coords = np.concatenate([np.asarray(c, np.int32).reshape(-1, 2) for c, _ in windows])
        batch = np.repeat(np.arange(len(windows), dtype=np.int32), counts)
        full = np.ascontiguousarray(np.column_stack([batch, coords]).astype(np.int32))
        feats = torch.as_tensor(np.concatenate([np.asarray(f) for _, f in windows]), dtype=dtype)
        return cls(feats.to(device), torch.from_numpy(full).to(device), (int(shape[0]), int(shape[1])), len(windows))

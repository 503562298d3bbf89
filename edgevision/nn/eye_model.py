"""The eye tracker: sparse CNN per event slice -> GRU over slices -> pupil centre + eye-closed logit."""

from __future__ import annotations

import torch
from torch import nn

from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.config import EyeConfig
from edgevision.nn.tensor import SparseTensor


class EyeTracker(nn.Module):
    """``forward(x, batch_size, seq_len) -> [B, T, 3]``: (x, y) normalized to [0, 1] of the sensor, closed logit.

    ``x`` holds ``B * T`` windows, window index ``b * T + t``. The backbone runs on the accelerator; the GRU
    and head run on the host one step at a time through :meth:`head_step`.
    """

    def __init__(self, cfg: EyeConfig) -> None:
        super().__init__()
        self.backbone = SparseBackbone(cfg)
        self.gru = nn.GRU(self.backbone.feature_dim, cfg.gru.hidden, batch_first=True)
        self.head = nn.Linear(cfg.gru.hidden, 3)
        with torch.no_grad():  # start at the sensor centre, eye open
            self.head.bias.copy_(torch.tensor([0.5, 0.5, -3.0]))
            self.head.weight.mul_(0.1)

    def forward(self, x: SparseTensor, batch_size: int, seq_len: int, impl: str = "torch") -> torch.Tensor:
        if x.batch_size != batch_size * seq_len:
            raise ValueError(f"x has {x.batch_size} windows, expected batch_size * seq_len = {batch_size * seq_len}")
        feats = self.backbone(x, impl=impl).reshape(batch_size, seq_len, -1)
        seq, _ = self.gru(feats)
        return self.head(seq)

    def head_step(self, features: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One real-time step: backbone features [B, F] and GRU state (None at start) -> (out [B, 3], new state)."""
        seq, h = self.gru(features.unsqueeze(1), h)
        return self.head(seq[:, 0]), h

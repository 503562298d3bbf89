"""The quantized eye tracker: integer backbone (accelerator) + float GRU/head (host), optionally a fake-quantized
GRU/head (``gru_bits`` 16 or 8) to measure what quantizing the host side would cost."""

from __future__ import annotations

import torch
from torch import nn

from edgevision.nn.config import EyeConfig
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.tensor import SparseTensor
from edgevision.quant.fakequant import fake_quant, fake_quant_weight
from edgevision.quant.qbackbone import ACT_QMAX, QuantBackbone


class FakeQuantGRU(nn.Module):
    """A GRU (one layer, batch first) run with ``bits``-bit per-row weights and a ``bits``-bit hidden state.

    The hidden state lives in (-1, 1) and is quantized with scale ``1 / (2**(bits-1) - 1)`` after every step;
    gate arithmetic stays float (a host implementation would use fixed point with wider accumulators).
    ``forward(x [B, T, F], h0 [1, B, H] | None) -> (seq [B, T, H], h [1, B, H])`` like ``nn.GRU``.
    """

    def __init__(self, gru: nn.GRU, bits: int) -> None:
        super().__init__()
        if gru.num_layers != 1 or not gru.batch_first or gru.bidirectional:
            raise ValueError("FakeQuantGRU supports a single-layer, unidirectional, batch_first GRU")
        self.gru, self.bits = gru, int(bits)
        self.qmax = (1 << (self.bits - 1)) - 1
        self.h_scale = 1.0 / self.qmax

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.gru
        w_ih, w_hh = fake_quant_weight(g.weight_ih_l0, self.bits), fake_quant_weight(g.weight_hh_l0, self.bits)
        gi = x @ w_ih.t() + g.bias_ih_l0  # [B, T, 3H], all steps at once
        h = x.new_zeros(x.shape[0], g.hidden_size) if h0 is None else h0[0]
        s = torch.tensor(self.h_scale, dtype=x.dtype, device=x.device)
        outs = []
        for t in range(x.shape[1]):
            i_r, i_z, i_n = gi[:, t].chunk(3, dim=1)
            h_r, h_z, h_n = (h @ w_hh.t() + g.bias_hh_l0).chunk(3, dim=1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            h = fake_quant((1 - z) * torch.tanh(i_n + r * h_n) + z * h, s, -self.qmax, self.qmax)
            outs.append(h)
        seq = torch.stack(outs, dim=1) if outs else x.new_zeros(x.shape[0], 0, g.hidden_size)
        return seq, h.unsqueeze(0)


class FakeQuantLinear(nn.Module):
    """``nn.Linear`` with ``bits``-bit per-row fake-quantized weights (float bias)."""

    def __init__(self, linear: nn.Linear, bits: int) -> None:
        super().__init__()
        self.linear, self.bits = linear, int(bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, fake_quant_weight(self.linear.weight, self.bits), self.linear.bias)


class QuantEyeTracker(nn.Module):
    """The eye tracker with the quantized backbone; same interface as :class:`EyeTracker` (shares its weights)."""

    def __init__(self, model: EyeTracker, cfg: EyeConfig, gru_bits: int | None = None) -> None:
        super().__init__()
        clip = float(cfg.input.input_clip)
        self.backbone = QuantBackbone(model.backbone, cfg.input.grid(cfg.sensor_size), max(1.0, clip / ACT_QMAX))
        if gru_bits is None:
            self.gru, self.head = model.gru, model.head
        else:
            if gru_bits not in (8, 16):
                raise ValueError(f"gru_bits must be 8 or 16, got {gru_bits}")
            self.gru, self.head = FakeQuantGRU(model.gru, gru_bits), FakeQuantLinear(model.head, gru_bits)

    def forward(self, x: SparseTensor, batch_size: int, seq_len: int) -> torch.Tensor:
        feats = self.backbone(x).reshape(batch_size, seq_len, -1)
        seq, _ = self.gru(feats)
        return self.head(seq)

    def head_step(self, features: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One real-time step, as :meth:`EyeTracker.head_step`."""
        seq, h = self.gru(features.unsqueeze(1), h)
        return self.head(seq[:, 0]), h

"""Fake-quantization primitives with straight-through gradients, rounding half up like the hardware."""

from __future__ import annotations

import torch


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``floor(x + 0.5)`` forward (ties towards +inf, as the requantizer), identity gradient."""
    return x + (torch.floor(x + 0.5) - x).detach()


def fake_quant(x: torch.Tensor, scale: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """``clamp(round(x / scale), lo, hi) * scale``; gradients flow to ``x`` (STE) and to ``scale`` (LSQ)."""
    return torch.clamp(round_ste(x / scale), lo, hi) * scale


def weight_scale(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric scale ``max|w[o]| / (2**(bits-1) - 1)`` (detached; 1 for an all-zero channel)."""
    qmax = (1 << (bits - 1)) - 1
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1)
    return torch.where(amax > 0, amax / qmax, torch.ones_like(amax))


def fake_quant_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric fake quantization of a weight tensor to ``bits`` bits (STE)."""
    qmax = (1 << (bits - 1)) - 1
    s = weight_scale(w, bits).reshape(-1, *([1] * (w.dim() - 1)))
    return fake_quant(w, s, -qmax, qmax)

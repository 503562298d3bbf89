"""Efficiency accounting with NeuroBench's definitions (Yik et al., "NeuroBench", Nature Communications 2025;
pip ``neurobench`` 2.x, metrics ``synaptic_operations``, ``activation_sparsity``, ``footprint``).

- A layer's operations are accumulates (ACs) when every input value is in {-1, 0, 1} (spikes), otherwise
  multiply-accumulates (MACs).
- Dense operations count every connection; *effective* operations count only connections whose input is
  non-zero (NeuroBench's Effective_MACs / Effective_ACs), summed over time steps, per sample.
- Activation sparsity: fraction of zero outputs of the spiking neurons (or ReLUs for ANNs) over time.
- Energy: 45 nm figures (Horowitz, ISSCC 2014): 4.6 pJ per fp32 MAC, 0.9 pJ per accumulate.

NeuroBench does not count sparse convolutions; here the ESDA backbone's ops come from
:meth:`SparseBackbone.macs` (dense = every grid site, effective = active sites and active neighbours only).
Point grouping (FPS, kNN distances) is not a layer and is not counted, as in NeuroBench.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import snntorch as snn
import torch
from torch import nn

PJ_PER_MAC = 4.6
PJ_PER_AC = 0.9


@dataclass
class Efficiency:
    """Per-sample figures."""

    params: int
    dense_ops: float
    effective_macs: float
    effective_acs: float
    activation_sparsity: float
    energy_uj: float

    def as_dict(self) -> dict:
        return asdict(self)


def is_spiking(x: torch.Tensor) -> bool:
    """All values in {-1, 0, 1}."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters plus fixed weights held as buffers (random-feature extractors); BN statistics and
    neuron state are not counted."""
    n = sum(p.numel() for p in model.parameters())
    for mod in model.modules():
        if isinstance(mod, (nn.modules.batchnorm._BatchNorm, snn.SpikingNeuron)):
            continue
        n += sum(b.numel() for b in mod.buffers(recurse=False) if b.is_floating_point())
    return n


class _Tally:
    def __init__(self) -> None:
        self.dense = self.macs = self.acs = 0.0
        self.zeros = self.total = 0

    def layer(self, mod: nn.Module, inputs, output) -> None:
        x = inputs[0]
        if isinstance(mod, nn.Linear):
            fan = mod.out_features
        elif isinstance(mod, nn.Conv1d):
            if mod.groups != 1:
                raise ValueError("accounting supports ungrouped Conv1d only")
            fan = mod.out_channels * mod.kernel_size[0]
        else:
            return
        self.dense += x.numel() * fan
        eff = int(torch.count_nonzero(x)) * fan
        if is_spiking(x):
            self.acs += eff
        else:
            self.macs += eff

    def activation(self, mod: nn.Module, inputs, output) -> None:
        out = output[0] if isinstance(output, tuple) else output
        self.zeros += int((out == 0).sum())
        self.total += out.numel()


def measure(model: nn.Module, batch, batch_size: int) -> Efficiency:
    """Run ``model`` on ``batch`` (eval mode, no grad) and return per-sample efficiency figures."""
    tally = _Tally()
    handles = []
    spiking = any(isinstance(m, snn.Leaky) for m in model.modules())
    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Conv1d)):
            handles.append(mod.register_forward_hook(tally.layer))
        if isinstance(mod, snn.Leaky) or (not spiking and isinstance(mod, (nn.ReLU, nn.ReLU6))):
            handles.append(mod.register_forward_hook(tally.activation))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(batch)
            backbone = getattr(model, "backbone", None)
            if backbone is not None and hasattr(backbone, "macs"):
                sparse = backbone.macs(batch)
                tally.dense += sparse["dense"]
                tally.macs += sparse["sparse"]
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    n = max(batch_size, 1)
    macs, acs = tally.macs / n, tally.acs / n
    return Efficiency(
        params=count_parameters(model),
        dense_ops=tally.dense / n,
        effective_macs=macs,
        effective_acs=acs,
        activation_sparsity=tally.zeros / tally.total if tally.total else 0.0,
        energy_uj=(macs * PJ_PER_MAC + acs * PJ_PER_AC) * 1e-6,
    )

import pytest
import snntorch as snn
import torch
from torch import nn

from edgevision.recognition.accounting import PJ_PER_AC, PJ_PER_MAC, count_parameters, measure


def _net():
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]))
        net[2].weight.fill_(1.0)
    return net


def test_ann_macs_by_hand():
    # input (1, 0, 2): layer 1 has 2 non-zero inputs x 2 outputs = 4 MACs (not spikes: 2), dense 6;
    # ReLU gives (3, 0): layer 2 has 1 non-zero input x 1 output = 1 MAC, dense 2.
    eff = measure(_net(), torch.tensor([[1.0, 0.0, 2.0]]), 1)
    assert eff.params == 8
    assert eff.dense_ops == 8 and eff.effective_macs == 5 and eff.effective_acs == 0
    assert eff.activation_sparsity == 0.5
    assert eff.energy_uj == pytest.approx(5 * PJ_PER_MAC * 1e-6)


def test_spike_inputs_count_as_accumulates():
    # input (1, 0, 1) is binary: layer 1 = 2 x 2 = 4 ACs; ReLU output (2, 0) is not: 1 MAC. Two samples -> per sample.
    x = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    eff = measure(_net(), x, 2)
    assert eff.effective_acs == 4 and eff.effective_macs == 1 and eff.dense_ops == 8
    assert eff.energy_uj == pytest.approx((4 * PJ_PER_AC + 1 * PJ_PER_MAC) * 1e-6)


class _Snn(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2, bias=False)
        self.lif = snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism="zero")
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 0.5]]))

    def forward(self, x):
        for m in self.modules():
            if hasattr(m, "reset_mem"):
                m.reset_mem()
        return torch.stack([self.lif(self.fc(x[t]))[0] for t in range(x.shape[0])])


def test_snn_activation_sparsity_and_sops():
    # T=2 steps of input spikes (1, 1): neuron 0 gets 2 -> spikes both steps; neuron 1 gets 0.5, 0.75 -> never.
    x = torch.ones(2, 1, 2)
    eff = measure(_Snn(), x, 1)
    assert eff.activation_sparsity == 0.5
    assert eff.effective_acs == 8 and eff.effective_macs == 0  # 2 steps x 2 inputs x 2 outputs
    assert count_parameters(_Snn()) == 4

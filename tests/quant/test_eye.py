import torch

from edgevision.quant.eye import FakeQuantGRU, FakeQuantLinear


def test_fake_quant_gru_follows_torch_gru_and_its_bit_width():
    torch.manual_seed(0)
    gru = torch.nn.GRU(12, 16, batch_first=True)
    x = torch.randn(3, 25, 12)
    h0 = torch.rand(1, 3, 16) - 0.5
    with torch.no_grad():
        ref, href = gru(x, h0)
        err = {}
        for bits in (16, 8):
            seq, h = FakeQuantGRU(gru, bits)(x, h0)
            assert seq.shape == ref.shape and h.shape == href.shape
            assert torch.equal(seq[:, -1], h[0])
            err[bits] = float((seq - ref).abs().max())
            q = seq * ((1 << (bits - 1)) - 1)
            assert torch.allclose(q, q.round(), atol=1e-3)  # the hidden state sits on the bits-bit grid
    assert err[16] < 2e-3 and err[16] < err[8] < 0.1


def test_fake_quant_linear_uses_bits_bit_weights():
    torch.manual_seed(1)
    lin = torch.nn.Linear(8, 3)
    fq = FakeQuantLinear(lin, 8)
    x = torch.randn(4, 8)
    assert torch.allclose(fq(x), lin(x), atol=0.05)
    w = fq.linear.weight.detach()
    from edgevision.quant.fakequant import fake_quant_weight

    wq = fake_quant_weight(w, 4)
    assert len(torch.unique(wq[0])) <= 15

"""spconv 2.3.8 (the reference) and the plain-PyTorch ops agree on outputs and gradients."""

import pytest
import torch

from edgevision.errors import ConfigError
from edgevision.nn import sparse_ops as so
from edgevision.nn import spconv_ops as sc
from edgevision.nn.config import config_from_dict
from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.tensor import SparseTensor

pytest.importorskip("spconv")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """spconv's CPU backward is only correct on one thread (edgevision.nn.spconv_ops refuses otherwise)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_gradients_through_spconv_with_several_threads_are_refused():
    torch.set_num_threads(2)
    coords = torch.tensor([[0, 0, 0], [0, 0, 1]], dtype=torch.int32)
    x = SparseTensor(torch.randn(2, 3, requires_grad=True), coords, (2, 2), 1)
    with pytest.raises(ConfigError, match="set_num_threads"):
        sc.subm_conv3x3(sc.to_spconv(x), torch.randn(4, 3, 3, 3))


def make_input(b=2, h=15, w=21, c=3, density=0.25, seed=0):
    g = torch.Generator().manual_seed(seed)
    coords = (torch.rand(b, h, w, generator=g) < density).nonzero().int().contiguous()
    feats = torch.randn(coords.shape[0], c, generator=g, dtype=torch.float64).float().requires_grad_()
    return SparseTensor(feats, coords, (h, w), b)


def grads(out, *leaves):
    g = torch.Generator().manual_seed(9)
    upstream = torch.randn(out.shape, generator=g)
    return torch.autograd.grad((out * upstream).sum(), leaves)


@pytest.mark.parametrize("op", ["subm", "dw", "down"])
def test_op_parity_outputs_and_gradients(op):
    x = make_input()
    shapes = {"subm": (5, 3, 3, 3), "dw": (3, 3, 3), "down": (4, 2, 2, 3)}
    weight = torch.randn(shapes[op]).requires_grad_()
    if op == "subm":
        ours = so.subm_conv3x3(x.feats, so.subm_neighbors(x.coords, x.shape), weight)
        ref = sc.subm_conv3x3(sc.to_spconv(x), weight)
    elif op == "dw":
        ours = so.dw_conv3x3(x.feats, so.subm_neighbors(x.coords, x.shape), weight)
        ref = sc.dw_conv3x3(sc.to_spconv(x), weight)
    else:
        oc, parent, offset, _ = so.downsample2x2(x.coords, x.shape)
        ours = so.strided_conv2x2(x.feats, parent, offset, oc.shape[0], weight)
        ref = sc.strided_conv2x2(sc.to_spconv(x), weight)
        assert torch.equal(ref.indices.int(), oc)
    torch.testing.assert_close(ours, ref.features, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads(ours, x.feats, weight), grads(ref.features, x.feats, weight)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_backbone_parity_outputs_and_gradients():
    cfg = config_from_dict(
        {
            "input": {"time_bins": 1},
            "backbone": {
                "layers": [
                    {"op": "conv3x3_subm", "out": 8},
                    {"op": "conv2x2_s2", "out": 12},
                    {"block": "inverted_residual", "out": 12, "expand": 2},
                    {"op": "conv2x2_s2", "out": 16},
                    {"op": "dwconv3x3_subm", "act": "relu6"},
                    {"op": "pool", "grid": [2, 2]},
                ]
            },
        }
    )
    torch.manual_seed(0)
    net = SparseBackbone(cfg).train()
    x = make_input(c=2, h=17, w=22)
    ours = net(x, impl="torch")
    ref = net(x, impl="spconv")
    assert ours.shape == (2, net.feature_dim)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
    params = [x.feats] + [p for p in net.parameters()]
    for a, b in zip(grads(ours, *params), grads(ref, *params)):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)

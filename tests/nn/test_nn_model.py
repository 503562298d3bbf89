"""Backbone construction from YAML, node semantics, the eye tracker's shapes and step-wise equivalence."""

from pathlib import Path

import pytest
import torch

from edgevision.errors import ConfigError
from edgevision.ir.ops import OPS
from edgevision.nn.backbone import SparseBackbone
from edgevision.nn.config import config_from_dict, load_config
from edgevision.nn.eye_model import EyeTracker
from edgevision.nn.layers import AddNode, ConvNode, PoolNode
from edgevision.nn.tensor import SparseTensor

MODELS = Path(__file__).resolve().parents[2] / "models"

SMALL = {
    "input": {"time_bins": 2},
    "backbone": {
        "layers": [
            {"op": "conv3x3_subm", "out": 8},
            {"op": "conv2x2_s2", "out": 16},
            {"block": "inverted_residual", "out": 16, "expand": 2, "repeat": 2},
            {"block": "inverted_residual", "out": 24, "expand": 2},
            {"op": "pool", "grid": [2, 3]},
        ]
    },
    "gru": {"hidden": 12},
}


def random_windows(n, h=30, w=40, c=4, density=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    coords = (torch.rand(n, h, w, generator=g) < density).nonzero().int().contiguous()
    return SparseTensor(torch.rand(coords.shape[0], c, generator=g) * 4, coords, (h, w), n)


def test_backbone_expands_blocks_in_dataflow_order():
    net = SparseBackbone(config_from_dict(SMALL))
    names = [n.name for n in net.nodes]
    assert names[:2] == ["l0_conv3x3_subm", "l1_conv2x2_s2"]
    assert names[2:6] == ["b2r0_expand", "b2r0_dw", "b2r0_project", "b2r0_add"]
    assert "b3r0_add" not in names  # 16 -> 24 channels: no residual
    seen = {"input"}
    for node in net.nodes:
        assert node.op in OPS and set(node.inputs) <= seen
        seen.add(node.name)
    add = net.nodes[5]
    assert isinstance(add, AddNode) and add.inputs == ["l1_conv2x2_s2", "b2r0_project"]
    dw = net.nodes[3]
    assert isinstance(dw, ConvNode) and dw.weight.shape == (32, 3, 3) and dw.act_name == "relu6"
    assert net.nodes[4].act_name is None and net.nodes[2].weight.shape == (32, 16)
    assert isinstance(net.nodes[-1], PoolNode) and net.feature_dim == 2 * 3 * 24


def test_submanifold_nodes_keep_sites_and_downsampling_halves_grid():
    net = SparseBackbone(config_from_dict(SMALL)).eval()
    x = random_windows(3, h=29, w=40)
    from edgevision.nn.layers import Sites

    sites = Sites()
    y = net.nodes[0]([x], sites)
    assert torch.equal(y.coords, x.coords) and y.feats.shape == (x.feats.shape[0], 8)
    z = net.nodes[1]([y], sites)
    assert z.shape == (15, 20)
    expect = torch.unique(torch.stack([x.coords[:, 0], x.coords[:, 1] // 2, x.coords[:, 2] // 2], 1), dim=0)
    assert torch.equal(z.coords, expect.int())
    assert net(x).shape == (3, net.feature_dim)


def test_windows_are_independent():
    net = SparseBackbone(config_from_dict(SMALL)).eval()
    x = random_windows(4)
    both = net(x)
    keep = x.coords[:, 0] == 2
    one = SparseTensor(x.feats[keep], x.coords[keep] * torch.tensor([0, 1, 1], dtype=torch.int32), x.shape, 1)
    torch.testing.assert_close(net(one)[0], both[2], rtol=1e-5, atol=1e-6)


def test_eye_tracker_shapes_and_head_step_matches_sequence():
    torch.manual_seed(0)
    model = EyeTracker(config_from_dict(SMALL)).eval()
    b, t = 2, 5
    x = random_windows(b * t)
    out = model(x, b, t)
    assert out.shape == (b, t, 3)
    feats = model.backbone(x).reshape(b, t, -1)
    h = None
    for i in range(t):
        step, h = model.head_step(feats[:, i], h)
        torch.testing.assert_close(step, out[:, i], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        model(x, 3, t)


def test_shipped_config_builds():
    cfg = load_config(MODELS / "eye_small.yaml")
    model = EyeTracker(cfg)
    assert cfg.input.grid(cfg.sensor_size) == (60, 80)
    assert model.backbone.in_channels == cfg.input.channels


@pytest.mark.parametrize(
    "layers, message",
    [
        ([{"op": "conv3x3_subm", "out": 8}], "last layer must be"),
        ([{"op": "conv5x5", "out": 8}, {"op": "pool"}], "conv5x5"),
        ([{"op": "conv1x1", "out": 0}, {"op": "pool"}], "'out' must be a positive integer"),
        ([{"op": "conv1x1", "out": 4, "act": "gelu"}, {"op": "pool"}], "act must be one of"),
        ([{"op": "pool"}, {"op": "conv1x1", "out": 4}], "pool must be the last"),
        ([{"block": "bottleneck", "out": 4}, {"op": "pool"}], "unknown block"),
        ([{"op": "conv1x1", "out": 4}, {"op": "pool", "grid": [0, 2]}], "grid must be"),
    ],
)
def test_bad_layer_lists_raise_config_error(layers, message):
    with pytest.raises(ConfigError, match=message):
        SparseBackbone(config_from_dict({"backbone": {"layers": layers}}))


def test_dense_masked_backbone_equals_sparse():
    from edgevision.nn.dense import DenseBackbone, to_dense

    torch.manual_seed(1)
    net = SparseBackbone(config_from_dict(SMALL))
    for node in net.nodes:  # non-trivial BatchNorm statistics
        if isinstance(node, ConvNode):
            node.bn.running_mean.uniform_(-0.5, 0.5)
            node.bn.running_var.uniform_(0.5, 2.0)
            node.bn.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    x = random_windows(3, h=29, w=41)
    with torch.no_grad():
        torch.testing.assert_close(DenseBackbone(net)(*to_dense(x)), net(x), rtol=1e-4, atol=1e-5)


def test_shipped_checkpoint_loads_and_matches_its_config():
    from edgevision.nn.checkpoint import load_eye_tracker

    path = MODELS / "eye_small.safetensors"
    assert path.stat().st_size < 3_000_000
    model, cfg = load_eye_tracker(path)
    shipped = load_config(MODELS / "eye_small.yaml")
    cfg.name = shipped.name  # trained as the candidate "eye_wide" (models/README.md)
    assert cfg == shipped
    out = model(random_windows(2 * 3, h=60, w=80), 2, 3)
    assert out.shape == (2, 3, 3) and torch.isfinite(out).all()
